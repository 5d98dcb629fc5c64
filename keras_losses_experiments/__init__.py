"""What the example programs and the `keras-losses` command share: a map of the package.

- `cli` — the `keras-losses` command (`keras-losses compare`); `flags` — the one table of command-line flags;
  `errors` — the exceptions (`ConfigError` names its field); `losses` — loss specifications (`square:15,30`).
- `training` — where training runs (`distribution`, `multi_worker_workaround`), exact resume (`resume`), the
  examples' run (`harness`), TensorFlow's quiet start (`quiet`), recipes as data (`recipe`, `optimizers`,
  `schedules`).
- `classification` — data sets (`datasets`, the user's own in `user_data`), `models`, `metrics`, `recipes`.
- `translation` — sentence pairs and tokenizers (`data`), the transformer (`model`), cached decoding
  (`decoding`), the presets (`presets`), `bleu`.
- `comparison` — `keras-losses compare`: `settings`, `tasks`, `runner`, `run_store`, `verdict`, `report`,
  put together by `compare`.
- `recipe_tables` — the recipe tables of the documentation.

Nothing heavy is imported here, nor by `cli` and what it imports at module level (`keras-losses --help` answers
without Keras): TensorFlow, tensorflow-datasets, scikit-learn, matplotlib, rich (and keras-hub, sacrebleu for
translation) are imported where they are used. Install them
with `pip install "keras-losses[experiments]"` (or `[translation]`).
"""
