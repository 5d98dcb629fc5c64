"""What the example programs and the `keras-losses` command share.

Datasets (`datasets`, the user's own data in `user_data`), models (`models`), loss
specifications (`loss_specs`), metrics (`metrics`), the training recipes and translation
presets (`recipes`), where training runs on either backend (`distribution`, with
`multi_worker_workaround` for Keras' multi-worker `fit`), the examples' flags
(`arguments`), the training harness (`training`) and the translator: its data and tokenizers
(`translation_data`), the model (`translator`) and its cached greedy and beam-search decoding (`decoding`).
The loss comparison: its settings (`settings`), what it trains per data set (`tasks`),
the runs (`runner`, saved by `run_store`), the verdict's statistics (`verdict`) and the
reports (`report`), put together by `compare`. Heavy dependencies (TensorFlow,
tensorflow-datasets, scikit-learn, matplotlib, rich; keras-hub and sacrebleu for
translation) are imported where they are used: install them with
`pip install "keras-losses[experiments]"` (or `[translation]`).
"""
