"""Models with a linear (logits) output layer, as every loss of the package needs: square loss and
squentropy work on raw outputs, the cross-entropies take `from_logits=True`.

Each model takes one kind of input, per example:

- `vector`: numbers `[features]` (`mlp`);
- `image`: `[height, width, channels]` (`mlp`, `cnn`, `resnet50`, `efficientnet_b0`, and the networks of the
  paper's scripts, `architectures`: `resnet50_v1_5` (torchvision's), `efficientnet_b0_paper_cifar`,
  `efficientnet_b0_timm`);
- `sequence`: numbers `[time, features]` (`mlp`, `cnn_1d`);
- `text`: token ids `[length]` from a `TextVectorization` layer (`text`).

Keras is imported only when a model is built: `check` and `choose` answer without it.
"""

INPUTS = {
    "mlp": ("vector", "image", "sequence"),
    "cnn": ("image",),
    "cnn_1d": ("sequence",),
    "text": ("text",),
    "resnet50": ("image",),
    "efficientnet_b0": ("image",),
    "resnet50_v1_5": ("image",),
    "efficientnet_b0_paper_cifar": ("image",),
    "efficientnet_b0_timm": ("image",),
}
MODELS = tuple(INPUTS)
#: What `--model auto` picks for each kind of input.
AUTO = {"vector": "mlp", "image": "cnn", "sequence": "cnn_1d", "text": "text"}
#: keras.applications builds these backbones only for images of at least 32x32 pixels.
MIN_IMAGE_SIZE = {"resnet50": 32, "efficientnet_b0": 32}
#: The networks of the paper's scripts (`architectures`): their inputs are normalised by the caller.
PAPER_NETWORKS = ("resnet50_v1_5", "efficientnet_b0_paper_cifar", "efficientnet_b0_timm")
#: The models with a head dropout and drop-connect rate (`--dropout`, `--drop-connect`), and their defaults.
EFFICIENTNET_RATES = {"efficientnet_b0_paper_cifar": (0.2, 0.2), "efficientnet_b0_timm": (0.2, 0.2)}

# ImageNet channel statistics in [0, 255], for ResNet50 (EfficientNet normalises inside keras.applications).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def describe(kind, input_shape):
    """E.g. `images 32x32x3`, `vectors of 64 numbers`, `sequences of 100x3 numbers`, `texts of 200 tokens`."""
    dims = "x".join(str(d) for d in input_shape)
    return {
        "image": f"images {dims}",
        "vector": f"vectors of {dims} numbers",
        "sequence": f"sequences of {dims} numbers (time x features)",
        "text": f"texts of {dims} tokens",
    }[kind]


def check(name, kind, input_shape):
    """Raises `ValueError` saying why model `name` cannot take inputs of `kind` and `input_shape`."""
    if name not in INPUTS:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODELS)}")
    if kind not in INPUTS[name]:
        takes = " or ".join(INPUTS[name])
        fits = ", ".join(m for m in MODELS if kind in INPUTS[m])
        raise ValueError(f"{name} takes {takes} inputs, not {describe(kind, input_shape)}; use --model {fits} or auto")
    smallest = MIN_IMAGE_SIZE.get(name)
    if smallest and min(input_shape[:2]) < smallest:
        raise ValueError(
            f"{describe(kind, input_shape)} are too small for {name} (keras.applications needs at least "
            f"{smallest}x{smallest}); use --model mlp or cnn, or --image-size {smallest} or more where it applies"
        )
    if name == "resnet50" and input_shape[-1] != 3:
        raise ValueError(f"resnet50 normalises 3 colour channels; {describe(kind, input_shape)} have {input_shape[-1]}")


def choose(kind):
    """The model `--model auto` picks for inputs of `kind`."""
    return AUTO[kind]


def build(name, input_shape, num_classes, vocabulary_size=None, dropout=None, drop_connect=None, normalized=False):
    """A model for `input_shape` (one example) with `num_classes` float32 logits, also under a mixed policy.

    `mlp`: two hidden layers (128, 64); `cnn`: three 3x3 convolutions; `cnn_1d`: two 1-D convolutions over
    time; `text`: an embedding of `vocabulary_size` tokens (id 0 is padding), averaged; `resnet50` and
    `efficientnet_b0` from `keras.applications`, from scratch (`weights=None`); `PAPER_NETWORKS` from
    `architectures` (EfficientNet-B0 with head `dropout` and `drop_connect`, default 0.2 each). Images come in
    [0, 255] and are normalised by the model with ImageNet's statistics, unless `normalized` (the input pipeline
    did it, `--augment resized_crop`: only the paper's networks take such inputs).
    """
    import keras
    from keras import layers

    if name in PAPER_NETWORKS:
        return _paper_network(name, input_shape, num_classes, dropout, drop_connect, normalized)
    inputs = keras.Input(input_shape, dtype="int32" if name == "text" else "float32", name="inputs")
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
    elif name == "cnn_1d":
        x = layers.Conv1D(32, 5, padding="same", activation="relu")(inputs)
        x = layers.Conv1D(64, 5, padding="same", activation="relu")(x)
        x = layers.GlobalAveragePooling1D()(x)
    elif name == "text":
        x = layers.Embedding(vocabulary_size, 64, mask_zero=True)(inputs)
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dense(64, activation="relu")(x)
    elif name == "resnet50":
        x = layers.Normalization(mean=IMAGENET_MEAN, variance=[s**2 for s in IMAGENET_STD])(inputs)
        x = keras.applications.ResNet50(include_top=False, weights=None, input_shape=input_shape, pooling="avg")(x)
    elif name == "efficientnet_b0":
        backbone = keras.applications.EfficientNetB0(
            include_top=False, weights=None, input_shape=input_shape, pooling="avg"
        )
        x = backbone(inputs)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODELS)}")
    outputs = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _paper_network(name, input_shape, num_classes, dropout, drop_connect, normalized):
    """An `architectures` network with float32 logits, after a normalisation layer unless `normalized`."""
    import keras

    from keras_losses_experiments.classification import architectures

    if name == "resnet50_v1_5":
        network = architectures.resnet50_v15(num_classes, input_shape)
    else:
        default_dropout, default_drop_connect = EFFICIENTNET_RATES[name]
        network = architectures.efficientnet_b0(
            num_classes,
            input_shape,
            variant=name.removeprefix("efficientnet_b0_"),
            dropout_rate=default_dropout if dropout is None else dropout,
            drop_connect_rate=default_drop_connect if drop_connect is None else drop_connect,
        )
    inputs = keras.Input(input_shape, name="inputs")
    x = inputs
    if not normalized:
        x = keras.layers.Normalization(mean=IMAGENET_MEAN, variance=[s**2 for s in IMAGENET_STD])(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(network(x))
    return keras.Model(inputs, outputs, name=name)
