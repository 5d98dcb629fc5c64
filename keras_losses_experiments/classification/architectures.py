"""The paper's vision networks in Keras, as the official scripts build them in PyTorch.

- `resnet50_v15`: torchvision's `resnet50` (`torchvision/models/resnet.py`), which the paper's CIFAR
  (`cifar/train.py:106`, `models.__dict__[args.model](num_classes=...)`) and ImageNet
  (`imagenet-resnet50/main.py:178`) scripts train. Keras' `keras.applications.ResNet50` is another network
  (v1: the stride on the first 1x1 convolution, biases in the convolutions, BN epsilon 1.001e-5).
- `efficientnet_b0`: two official models, not Keras' `keras.applications.EfficientNetB0`, which differs from both
  in BatchNormalization (epsilon 1e-3, momentum 0.99 against PyTorch's 1e-5, 0.1) and in the ways listed in
  `EFFICIENTNET_VARIANTS` (its stride-2 padding and linear drop-connect match one model or the other):
  `"paper_cifar"` (the paper's CIFAR B0, `cifar/efficientnet/models/efficientnet.py`) and `"timm"` (timm
  v0.4.12's `efficientnet_b0` for `imagenet-efficientnetb0/readme.sh`). The layer structure and parameter count
  are Keras' (checked in the tests).

BatchNormalization is PyTorch's everywhere: epsilon 1e-5, momentum 0.1 (Keras' 0.9). PyTorch updates the
running variance with the unbiased batch variance, Keras with the biased one: a factor n / (n - 1) for n values
per channel (n >= 32 x 49 here): a difference of at most 3 % in the first updates' variance, none at convergence.
"""

import math
from dataclasses import dataclass

import keras

#: PyTorch's BatchNorm2d defaults in Keras' terms (Keras' momentum is 1 - PyTorch's).
TORCH_BATCH_NORM = {"epsilon": 1e-5, "momentum": 0.9}


def _kaiming_fan_out():
    """PyTorch's `kaiming_normal_(mode="fan_out", nonlinearity="relu")`: N(0, 2 / (k * k * out_channels))."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _batch_norm(name):
    return keras.layers.BatchNormalization(axis=-1, name=name, **TORCH_BATCH_NORM)


def _torch_conv(x, filters, kernel, strides, name):
    """PyTorch's `Conv2d(kernel, stride, padding=kernel // 2, bias=False)`: symmetric zero padding (Keras'
    "same" pads a stride-2 convolution of an even input on the bottom and right only)."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters, kernel, strides, use_bias=False, kernel_initializer=_kaiming_fan_out(), name=name
    )(x)


def _bottleneck(x, width, strides, downsample, name):
    """torchvision's `Bottleneck` (v1.5): 1x1, 3x3 with the stride, 1x1 to 4 x width; a strided 1x1 projection
    where the shape changes."""
    shortcut = x
    if downsample:
        shortcut = _torch_conv(x, 4 * width, 1, strides, f"{name}_downsample_conv")
        shortcut = _batch_norm(f"{name}_downsample_bn")(shortcut)
    x = keras.layers.ReLU(name=f"{name}_relu1")(
        _batch_norm(f"{name}_bn1")(_torch_conv(x, width, 1, 1, f"{name}_conv1"))
    )
    x = keras.layers.ReLU(name=f"{name}_relu2")(
        _batch_norm(f"{name}_bn2")(_torch_conv(x, width, 3, strides, f"{name}_conv2"))
    )
    x = _batch_norm(f"{name}_bn3")(_torch_conv(x, 4 * width, 1, 1, f"{name}_conv3"))
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, x]))


def resnet50_v15(num_classes=1000, input_shape=(224, 224, 3)):
    """torchvision's ResNet-50 (v1.5), logits out: 25,557,032 parameters for 1000 classes.

    Stem 7x7/2 convolution, BN, ReLU, 3x3/2 max pooling; stages of 3, 4, 6, 3 bottlenecks of widths 64, 128,
    256, 512 (the stride on the 3x3 convolution of each stage's first block, 2 from the second stage on); global
    average pooling; a dense layer. Convolutions without bias, kaiming-normal fan-out; BN weights 1, biases 0
    (`zero_init_residual=False`); the dense layer PyTorch's `Linear` default, U(+-1/sqrt(2048)) for weights and
    bias. Inputs normalised by the caller (`augmentation.normalize`).

    Examples:
        >>> model = resnet50_v15(10, input_shape=(32, 32, 3))
        >>> model.output_shape
        (None, 10)
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    inputs = keras.Input(input_shape)
    x = keras.layers.ReLU(name="relu")(_batch_norm("bn1")(_torch_conv(inputs, 64, 7, 2, "conv1")))
    x = keras.layers.MaxPooling2D(3, 2, name="maxpool")(keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x))
    # Zero padding before the max pooling equals PyTorch's -inf padding: the inputs are ReLU outputs, >= 0.
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            strides = 2 if stage > 1 and block == 0 else 1
            x = _bottleneck(x, width, strides, downsample=block == 0, name=f"layer{stage}_{block}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    bound = 1 / math.sqrt(2048)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),  # U(+-1/sqrt(fan_in))
        bias_initializer=keras.initializers.RandomUniform(-bound, bound),
        name="fc",
    )(x)
    return keras.Model(inputs, outputs, name="resnet50_v15")


@dataclass(frozen=True)
class EfficientNetVariant:
    """What distinguishes one official EfficientNet-B0 from another (and from Keras')."""

    source: str
    #: "tf_same": `p = max(k - s, 0)` split `(p // 2, p - p // 2)` (Keras' B0 agrees at even sizes);
    #: "symmetric": `((s - 1) + (k - 1)) // 2` on every side.
    padding: str
    #: "constant": every residual block drops with the rate; "linear": block i of 16 with rate * i / 16 (Keras).
    drop_connect: str
    #: Depthwise kernels' N(0, 2 / fan_out) with PyTorch's fan-out `channels * k * k` (True) or TF's `k * k`.
    depthwise_fan_out_counts_channels: bool


EFFICIENTNET_VARIANTS = {
    "paper_cifar": EfficientNetVariant(
        "cifar/efficientnet/models/efficientnet.py (lines 41-54 padding, 109-117 drop-connect, 185-199 init)",
        padding="tf_same",
        drop_connect="constant",
        depthwise_fan_out_counts_channels=True,
    ),
    "timm": EfficientNetVariant(
        "timm v0.4.12 timm/models/efficientnet.py _gen_efficientnet, efficientnet_builder.py:298-299, 418-456",
        padding="symmetric",
        drop_connect="linear",
        depthwise_fan_out_counts_channels=False,
    ),
}
#: (expansion, output channels, repeats, stride, kernel) per stage: both official B0s and Keras'.
_B0_STAGES = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5))
_B0_STAGES += ((6, 192, 4, 2, 5), (6, 320, 1, 1, 3))
_B0_BLOCKS = sum(stage[2] for stage in _B0_STAGES)


def _padding(kernel, strides, variant):
    if variant.padding == "symmetric":
        each = ((strides - 1) + (kernel - 1)) // 2
        return (each, each)
    total = max(kernel - strides, 0)
    return (total // 2, total - total // 2)


def _pad(x, kernel, strides, variant, name):
    padding = _padding(kernel, strides, variant)
    return keras.layers.ZeroPadding2D((padding, padding), name=name)(x) if any(padding) else x


def _conv_bn_swish(x, filters, kernel, strides, variant, name):
    x = _pad(x, kernel, strides, variant, f"{name}_pad")
    x = keras.layers.Conv2D(filters, kernel, strides, use_bias=False, kernel_initializer=_kaiming_fan_out(), name=name)(
        x
    )
    return keras.layers.Activation("swish", name=f"{name}_activation")(_batch_norm(f"{name}_bn")(x))


def _mbconv(x, filters_in, filters_out, expansion, kernel, strides, drop_rate, variant, name):
    """An MBConv block: expansion 1x1 (unless the expansion is 1), depthwise kxk with the stride, squeeze-and-
    excitation to `max(1, filters_in // 4)` channels, projection 1x1; residual with drop-connect where the
    shape is kept."""
    inputs = x
    hidden = filters_in * expansion
    if expansion != 1:
        x = _conv_bn_swish(x, hidden, 1, 1, variant, f"{name}_expand_conv")
    x = _pad(x, kernel, strides, variant, f"{name}_dwconv_pad")
    depthwise_scale = 2.0 / hidden if variant.depthwise_fan_out_counts_channels else 2.0
    x = keras.layers.DepthwiseConv2D(
        kernel,
        strides,
        use_bias=False,
        depthwise_initializer=keras.initializers.VarianceScaling(depthwise_scale, "fan_out", "untruncated_normal"),
        name=f"{name}_dwconv",
    )(x)
    x = keras.layers.Activation("swish", name=f"{name}_activation")(_batch_norm(f"{name}_bn")(x))
    squeezed = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    squeezed = keras.layers.Conv2D(
        max(1, filters_in // 4), 1, activation="swish", kernel_initializer=_kaiming_fan_out(), name=f"{name}_se_reduce"
    )(squeezed)
    squeezed = keras.layers.Conv2D(
        hidden, 1, activation="sigmoid", kernel_initializer=_kaiming_fan_out(), name=f"{name}_se_expand"
    )(squeezed)
    x = keras.layers.Multiply(name=f"{name}_se_excite")([x, squeezed])
    x = keras.layers.Conv2D(
        filters_out, 1, use_bias=False, kernel_initializer=_kaiming_fan_out(), name=f"{name}_project_conv"
    )(x)
    x = _batch_norm(f"{name}_project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def efficientnet_b0(
    num_classes=1000, input_shape=(224, 224, 3), variant="paper_cifar", dropout_rate=0.2, drop_connect_rate=0.2
):
    """EfficientNet-B0 as one of the paper's scripts builds it, logits out (5,288,548 parameters for 1000 classes).

    Stem 3x3/2 convolution to 32 channels; 16 MBConv blocks (`_B0_STAGES`); 1x1 convolution to 1280; global
    average pooling; dropout `dropout_rate` (both scripts: 0.2, `cifar/efficientnet/models/efficientnet.py:21`
    and `imagenet-efficientnetb0/readme.sh:12` `--drop 0.2`); a dense layer, U(+-1/sqrt(num_classes)) weights,
    zero bias. Drop-connect `drop_connect_rate` (0.2: the CIFAR model's default, line 82; `--drop-connect 0.2`)
    as `variant` schedules it. Swish activations; inputs normalised by the caller.

    Args:
        variant: a key of `EFFICIENTNET_VARIANTS`: "paper_cifar" or "timm".
        dropout_rate, drop_connect_rate: in [0, 1).

    Examples:
        >>> efficientnet_b0(10, input_shape=(32, 32, 3), variant="timm").output_shape
        (None, 10)
    """
    if variant not in EFFICIENTNET_VARIANTS:
        raise ValueError(f"variant must be one of {tuple(EFFICIENTNET_VARIANTS)}, got {variant!r}")
    for name, rate in (("dropout_rate", dropout_rate), ("drop_connect_rate", drop_connect_rate)):
        if not 0 <= rate < 1:
            raise ValueError(f"{name} must be in [0, 1), got {rate}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    spec = EFFICIENTNET_VARIANTS[variant]
    inputs = keras.Input(input_shape)
    x = _conv_bn_swish(inputs, 32, 3, 2, spec, "stem_conv")
    filters_in, block = 32, 0
    for stage, (expansion, filters, repeats, strides, kernel) in enumerate(_B0_STAGES, start=1):
        for repeat in range(repeats):
            rate = drop_connect_rate if spec.drop_connect == "constant" else drop_connect_rate * block / _B0_BLOCKS
            x = _mbconv(
                x,
                filters_in,
                filters,
                expansion,
                kernel,
                strides if repeat == 0 else 1,
                rate,
                spec,
                name=f"block{stage}{chr(ord('a') + repeat)}",
            )
            filters_in, block = filters, block + 1
    x = _conv_bn_swish(x, 1280, 1, 1, spec, "top_conv")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name="top_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_out", "uniform"),  # U(+-1/sqrt(fan_out))
        name="predictions",
    )(x)
    return keras.Model(inputs, outputs, name=f"efficientnet_b0_{variant}")
