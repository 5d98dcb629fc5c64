"""What the example programs and the `keras-losses` command share.

Datasets (`datasets`), models (`models`), loss specifications (`loss_specs`),
metrics (`metrics`), the training recipes and translation presets (`recipes`),
where training runs on either backend (`distribution`, with
`multi_worker_workaround` for Keras' multi-worker `fit`), the examples' flags
(`arguments`), the training harness (`training`), the loss comparison
(`compare`) and the translator (`translation`). Heavy dependencies (TensorFlow,
tensorflow-datasets, scikit-learn, matplotlib, rich; keras-hub and sacrebleu for
translation) are imported where they are used: install them with
`pip install "keras-losses[experiments]"` (or `[translation]`).
"""
