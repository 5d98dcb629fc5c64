"""Models with a linear (logits) output layer, as every loss of the package needs: square loss and
squentropy work on raw outputs, the cross-entropies take `from_logits=True`."""

MODELS = ("mlp", "cnn", "resnet50", "efficientnet_b0")
DEFAULT_MODEL = {"digits": "mlp", "cifar10": "resnet50", "cifar100": "resnet50", "imagenet2012": "resnet50"}

# ImageNet channel statistics in [0, 255], for ResNet50 (EfficientNet normalises inside keras.applications).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def build(name, input_shape, num_classes):
    """`mlp`/`cnn` for small inputs; `resnet50`/`efficientnet_b0` from `keras.applications`, from scratch.

    The logits layer is float32 also under a mixed-precision policy.
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="image")
    if name == "mlp":
        x = layers.Flatten()(inputs)
        x = layers.Dense(128, activation="relu")(x)
        x = layers.Dense(64, activation="relu")(x)
    elif name == "cnn":
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = layers.GlobalAveragePooling2D()(x)
    elif name == "resnet50":
        x = layers.Normalization(mean=IMAGENET_MEAN, variance=[s**2 for s in IMAGENET_STD])(inputs)
        backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=input_shape, pooling="avg")
        x = backbone(x)
    elif name == "efficientnet_b0":
        backbone = keras.applications.EfficientNetB0(
            include_top=False, weights=None, input_shape=input_shape, pooling="avg"
        )
        x = backbone(inputs)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODELS)}")
    outputs = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
