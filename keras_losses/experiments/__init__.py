"""What the example programs and the `keras-losses` command share.

Datasets (`datasets`), models (`models`), loss specifications (`loss_specs`),
metrics (`metrics`), the training harness (`training`), the loss comparison
(`compare`) and the translator (`translation`). Heavy dependencies (TensorFlow,
tensorflow-datasets, scikit-learn, matplotlib, rich; keras-hub and sacrebleu for
translation) are imported where they are used: install them with
`pip install "keras-losses[experiments]"` (or `[translation]`).
"""
