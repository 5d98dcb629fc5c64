"""What the example programs and the `keras-losses` command share.

Datasets (`datasets`), models (`models`), loss specifications (`loss_specs`),
metrics (`metrics`), the training harness (`training`) and the loss comparison
(`compare`). Heavy dependencies (TensorFlow, tensorflow-datasets, scikit-learn,
matplotlib, rich, sacrebleu) are imported where they are used: install them with
`pip install keras-losses[experiments]`.
"""
