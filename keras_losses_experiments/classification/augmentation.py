"""The image pipelines of the encouraging-loss paper's vision experiments, per example, in tf.data.

Every random transform is a function of `(image, seed)`: `seed` is a `[2]` integer tensor (an example's seed
from `training.resume.example_seeds`, itself a function of the run's seed, the data epoch and the example's
index), and every draw is a TensorFlow stateless op seeded from it. An example is therefore augmented the same
way whatever the order in which parallel map calls run, and a resumed run sees the augmentations it would have
seen without the interruption.

Images are `[height, width, 3]` with values in [0, 255] until `normalize`. As PIL does, every transform before
`normalize` returns whole values (float32 holding integers; PIL images are uint8), so rounding and truncation
happen where the official pipelines have them.

The pipelines (official sources, `lancopku/well-classified-examples-are-underestimated` and timm v0.4.12):

- torchvision training (`cifar/efficientnet/datasets/cifar.py:13-18`, `imagenet-resnet50/main.py:253-257`):
  `random_resized_crop` (224, scale 0.08-1, ratio 3/4-4/3, bilinear) + `random_horizontal_flip` +
  `normalize`; evaluation (`cifar.py:20-25`, `main.py:270-274`): `resize_shorter_side(256)` +
  `center_crop(224)` + `normalize`.
- timm training (`imagenet-efficientnetb0/readme.sh:11-14`; `timm/data/transforms_factory.py:44-127`): the crop
  with an interpolation drawn between bilinear and bicubic (`--train-interpolation random`), the flip,
  `rand_augment("rand-m9-mstd0.5")`, `normalize`, then `random_erasing` (probability 0.2, mode 'pixel') on the
  normalised image; evaluation: `resize_shorter_side(256, "bicubic")` + `center_crop(224)` (timm's
  `efficientnet_b0` default config: crop_pct 0.875, bicubic).

Where TensorFlow cannot be bit-exact with PIL (see each function): resampling (TF's kernels in float against
PIL's fixed-point ones: values within 1 of PIL's) and the bicubic case of RandAugment's geometric ops (TF's
projective transform has no bicubic kernel: bilinear is used).
"""

import math
import re

import tensorflow as tf

#: `cifar/efficientnet/datasets/cifar.py:10` (the paper's CIFAR-10 and CIFAR-100 loaders both use these).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
#: `imagenet-resnet50/main.py:248-249`; timm's IMAGENET_DEFAULT_MEAN/STD (`timm/data/constants.py`).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

INTERPOLATIONS = ("bilinear", "bicubic")
_TRIES = 10  # torchvision's RandomResizedCrop.get_params and timm's RandomErasing._erase


def _check_range(name, value, low, high):
    if not low <= value[0] <= value[1] <= high:
        raise ValueError(f"{name} must be (min, max) with {low} <= min <= max <= {high}, got {value}")


def _quantize(image):
    """PIL's uint8 result of a resampling: rounded half up (PIL's fixed point), clipped to [0, 255]."""
    return tf.clip_by_value(tf.floor(image + 0.5), 0.0, 255.0)


def _randint(uniform, high):
    """`randint(0, high)` inclusive from a uniform in [0, 1): an integer tensor."""
    return tf.cast(tf.floor(uniform * tf.cast(high + 1, uniform.dtype)), "int32")


def resized_crop_box(height, width, uniforms, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's `RandomResizedCrop.get_params` on given uniforms: `(top, left, crop_height, crop_width)`.

    Up to 10 tries: an area `scale` of the image's and a log-uniform aspect ratio (width / height) in `ratio`,
    `w = round(sqrt(area * ratio))`, `h = round(sqrt(area / ratio))` (round half to even, as Python's); the first
    try that fits is placed uniformly; if none fits, the center crop of the largest box within `ratio`.

    Args:
        height, width: the image's size (integer tensors or ints).
        uniforms: `[10, 4]` float64 uniforms in [0, 1): per try, area, log-ratio, top and left.
        scale: the crop's area as a fraction of the image's, `0 < min <= max <= 1`.
        ratio: the crop's aspect-ratio range, `0 < min <= max`.

    Examples:
        >>> import tensorflow as tf
        >>> box = resized_crop_box(32, 32, tf.fill([10, 4], tf.constant(0.5, "float64")))
        >>> [int(v) for v in box]
        [4, 4, 24, 24]
    """
    height, width = tf.cast(height, "float64"), tf.cast(width, "float64")
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    target_area = height * width * (scale[0] + (scale[1] - scale[0]) * uniforms[:, 0])
    aspect = tf.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * uniforms[:, 1])
    w, h = tf.round(tf.sqrt(target_area * aspect)), tf.round(tf.sqrt(target_area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = tf.argmax(tf.cast(fits, "int32"))  # the first try that fits (0 when none does)
    h_try, w_try = h[first], w[first]
    tries = (
        _randint(uniforms[first, 2], tf.cast(height - h_try, "int32")),
        _randint(uniforms[first, 3], tf.cast(width - w_try, "int32")),
        tf.cast(h_try, "int32"),
        tf.cast(w_try, "int32"),
    )
    in_ratio = width / height
    w_fallback = tf.where(in_ratio > ratio[1], tf.round(height * ratio[1]), width)
    h_fallback = tf.where(in_ratio < ratio[0], tf.round(width / ratio[0]), height)
    h_fallback, w_fallback = tf.cast(h_fallback, "int32"), tf.cast(w_fallback, "int32")
    fallback = (
        (tf.cast(height, "int32") - h_fallback) // 2,
        (tf.cast(width, "int32") - w_fallback) // 2,
        h_fallback,
        w_fallback,
    )
    found = tf.reduce_any(fits)
    return tuple(tf.where(found, t, f) for t, f in zip(tries, fallback))


def _resize(image, size, interpolation):
    """PIL's `Image.resize` on uint8 values: antialiased (the kernel widened when shrinking), in two passes,
    horizontal then vertical, each rounded and clipped to uint8 (which clips bicubic's overshoot in between)."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    image = tf.cast(image, "float32")
    wide = _quantize(tf.image.resize(image, (tf.shape(image)[0], size[1]), method=interpolation, antialias=True))
    return _quantize(tf.image.resize(wide, size, method=interpolation, antialias=True))


def random_resized_crop(image, seed, size=224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear"):
    """torchvision's `RandomResizedCrop(size, scale, ratio)`: `resized_crop_box`'s crop resized to `size` x `size`.

    `interpolation` "bilinear" (torchvision's default), "bicubic", or "random": one of the two drawn per example
    (timm's `RandomResizedCropAndInterpolation` with `--train-interpolation random`). The resize is TF's
    antialiased one, within 1 of PIL's on uint8 values (exact for upsampling, as CIFAR's 32 to 224, up to PIL's
    fixed-point rounding).
    """
    _check_range("scale", scale, 1e-12, 1.0)
    _check_range("ratio", ratio, 1e-12, math.inf)
    if interpolation not in (*INTERPOLATIONS, "random"):
        raise ValueError(f"interpolation must be one of {(*INTERPOLATIONS, 'random')}, got {interpolation!r}")
    box_seed, interpolation_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    uniforms = tf.random.stateless_uniform([_TRIES, 4], box_seed, dtype="float64")
    shape = tf.shape(image)
    top, left, h, w = resized_crop_box(shape[0], shape[1], uniforms, scale, ratio)
    crop = tf.image.crop_to_bounding_box(image, top, left, h, w)
    if interpolation != "random":
        return _resize(crop, (size, size), interpolation)
    bicubic = tf.random.stateless_uniform([], interpolation_seed) < 0.5
    return tf.cond(
        bicubic, lambda: _resize(crop, (size, size), "bicubic"), lambda: _resize(crop, (size, size), "bilinear")
    )


def random_horizontal_flip(image, seed, probability=0.5):
    """torchvision's `RandomHorizontalFlip(p)`: the image mirrored left-right with probability `probability`."""
    if not 0 <= probability <= 1:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    flip = tf.random.stateless_uniform([], seed) < probability
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: tf.identity(image))


def resize_shorter_side(image, size, interpolation="bilinear"):
    """torchvision's `Resize(size)` for an int: the shorter side to `size`, the longer to
    `int(size * long / short)` (truncated, as torchvision computes it), antialiased as PIL."""
    shape = tf.shape(image)
    short, long = tf.minimum(shape[0], shape[1]), tf.maximum(shape[0], shape[1])
    new_long = tf.cast(tf.floor(size * tf.cast(long, "float64") / tf.cast(short, "float64")), "int32")
    portrait = shape[0] > shape[1]
    new_size = tf.where(portrait, tf.stack([new_long, size]), tf.stack([size, new_long]))
    return _resize(image, new_size, interpolation)


def center_crop(image, size):
    """torchvision's `CenterCrop(size)`: offsets `round((side - size) / 2)`, Python's round half to even (TF's
    `resize_with_crop_or_pad` floors instead). The image must be at least `size` x `size`."""
    shape = tf.shape(image)
    top = tf.cast(tf.round(tf.cast(shape[0] - size, "float64") / 2), "int32")
    left = tf.cast(tf.round(tf.cast(shape[1] - size, "float64") / 2), "int32")
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def normalize(image, mean, std):
    """torchvision's `ToTensor` + `Normalize(mean, std)` in float32: `(image / 255 - mean) / std`, per channel."""
    if len(mean) != len(std) or min(std) <= 0:
        raise ValueError(f"mean and std must have one value per channel and std > 0, got {mean}, {std}")
    mean, std = tf.constant(mean, "float32"), tf.constant(std, "float32")
    return (tf.cast(image, "float32") / 255.0 - mean) / std


# --- RandAugment (timm v0.4.12, timm/data/auto_augment.py) -------------------------------------------------------

_MAX_LEVEL = 10.0  # auto_augment.py:34


def _blend(degenerate, image, factor):
    """PIL's `Image.blend(degenerate, image, factor)`: `degenerate + factor * (image - degenerate)` in float32,
    truncated and clipped to [0, 255] (PIL's Blend.c)."""
    factor = tf.cast(factor, "float32")
    return tf.clip_by_value(tf.floor(degenerate + factor * (image - degenerate)), 0.0, 255.0)


def _grayscale(image):
    """PIL's `convert("L")`: `(19595 R + 38470 G + 7471 B + 0x8000) >> 16` (ITU-R 601-2 luma, fixed point)."""
    rgb = tf.cast(image, "int32")
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) // 65536
    return tf.cast(luma, "float32")[..., None]


def _per_channel(image, lut_fn):
    """Apply `lut_fn(channel values [h, w] int32) -> float32 [h, w]` to each channel."""
    channels = tf.unstack(tf.cast(image, "int32"), num=3, axis=-1)
    return tf.stack([lut_fn(c) for c in channels], axis=-1)


def auto_contrast(image):
    """PIL's `ImageOps.autocontrast`: per channel, `int(x * 255 / (hi - lo) - lo * 255 / (hi - lo))` clipped
    (identity for a flat channel)."""

    def stretch(channel):
        lo = tf.cast(tf.reduce_min(channel), "float64")
        hi = tf.cast(tf.reduce_max(channel), "float64")
        scale = 255.0 / tf.maximum(hi - lo, 1.0)
        values = tf.clip_by_value(tf.floor(tf.cast(channel, "float64") * scale - lo * scale), 0.0, 255.0)
        return tf.cast(tf.where(hi > lo, values, tf.cast(channel, "float64")), "float32")

    return _per_channel(image, stretch)


def equalize(image):
    """PIL's `ImageOps.equalize`: per channel, `lut[i] = (step // 2 + #pixels below i) // step` with
    `step = (#pixels - #pixels of the highest value) // 255` (identity when step is 0)."""

    def equalize_channel(channel):
        histogram = tf.math.bincount(channel, minlength=256, maxlength=256)
        nonzero = tf.boolean_mask(histogram, histogram > 0)
        step = (tf.reduce_sum(histogram) - nonzero[-1]) // 255
        below = tf.cumsum(histogram, exclusive=True)
        lut = tf.minimum((tf.maximum(step, 1) // 2 + below) // tf.maximum(step, 1), 255)
        return tf.cast(tf.where(step > 0, tf.gather(lut, channel), channel), "float32")

    return _per_channel(image, equalize_channel)


def invert(image):
    """PIL's `ImageOps.invert`: `255 - x`."""
    return 255.0 - image


def posterize(image, bits):
    """PIL's `ImageOps.posterize(bits)`: keep the `bits` highest bits (timm: the image unchanged for bits >= 8)."""
    bits = tf.cast(bits, "int32")
    mask = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.invert(2 ** (8 - tf.minimum(bits, 8)) - 1), 255), "uint8")
    posterized = tf.cast(tf.bitwise.bitwise_and(tf.cast(image, "uint8"), mask), "float32")
    return tf.where(bits >= 8, image, posterized)


def solarize(image, threshold):
    """PIL's `ImageOps.solarize(threshold)`: `255 - x` for `x >= threshold`."""
    return tf.where(image < tf.cast(threshold, "float32"), image, 255.0 - image)


def solarize_add(image, addition, threshold=128):
    """timm's `solarize_add`: `min(255, x + addition)` for `x < threshold`."""
    return tf.where(image < threshold, tf.minimum(image + tf.cast(addition, "float32"), 255.0), image)


def color(image, factor):
    """PIL's `ImageEnhance.Color(image).enhance(factor)`: blend from the grayscale image."""
    return _blend(tf.broadcast_to(_grayscale(image), tf.shape(image)), image, factor)


def contrast(image, factor):
    """PIL's `ImageEnhance.Contrast(image).enhance(factor)`: blend from the flat image at the grayscale mean
    (rounded half up, as `int(mean + 0.5)`)."""
    mean = tf.floor(tf.reduce_mean(tf.cast(_grayscale(image), "float64")) + 0.5)
    return _blend(tf.cast(mean, "float32") * tf.ones_like(image), image, factor)


def brightness(image, factor):
    """PIL's `ImageEnhance.Brightness(image).enhance(factor)`: blend from black."""
    return _blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor):
    """PIL's `ImageEnhance.Sharpness(image).enhance(factor)`: blend from `ImageFilter.SMOOTH` (3x3 kernel
    [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, rounded; the border pixels kept)."""
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], "float32") / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.floor(tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0] + 0.5)
    border = tf.pad(tf.ones_like(smooth, "bool"), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(border, tf.pad(smooth, [[1, 1], [1, 1], [0, 0]]), image)
    return _blend(degenerate, image, factor)


def pil_affine(image, coefficients, fill):
    """PIL's `image.transform(size, Image.AFFINE, (a, b, c, d, e, f), BILINEAR, fillcolor=fill)`.

    The output pixel at (x, y) (pixel centres at +0.5) samples the input at `(a x + b y + c, d x + e y + f)`:
    bilinearly with edge pixels repeated where the point lies within the image, `fill` where it lies outside
    (PIL's Geometry.c); values rounded to uint8's. TF's projective transform samples in float (PIL in float
    then rounds: equal within 1).
    """
    a, b, c, d, e, f = (tf.cast(v, "float32") for v in coefficients)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    # PIL's continuous coordinates -> TF's pixel-index ones: index = coordinate - 0.5 on both sides.
    transform = tf.stack([a, b, c + (a + b - 1.0) / 2, d, e, f + (d + e - 1.0) / 2, 0.0, 0.0])
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=tf.stack([height, width]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )[0]
    ys, xs = tf.meshgrid(tf.range(height, dtype="float32") + 0.5, tf.range(width, dtype="float32") + 0.5, indexing="ij")
    source_x, source_y = a * xs + b * ys + c, d * xs + e * ys + f
    inside = (source_x >= 0) & (source_x < tf.cast(width, "float32"))
    inside &= (source_y >= 0) & (source_y < tf.cast(height, "float32"))
    return tf.where(inside[..., None], tf.clip_by_value(tf.floor(warped), 0.0, 255.0), tf.constant(fill, "float32"))


def rotate(image, degrees, fill):
    """PIL's `image.rotate(degrees, fillcolor=fill)`: counter-clockwise about the centre `(w / 2, h / 2)`."""
    shape = tf.cast(tf.shape(image), "float32")
    center_x, center_y = shape[1] / 2, shape[0] / 2
    angle = -tf.cast(degrees, "float32") * math.pi / 180
    cos, sin = tf.cos(angle), tf.sin(angle)
    c = cos * -center_x + sin * -center_y + center_x
    f = -sin * -center_x + cos * -center_y + center_y
    return pil_affine(image, (cos, sin, c, -sin, cos, f), fill)


def shear_x(image, factor, fill):
    """timm's `shear_x`: the affine `(1, factor, 0, 0, 1, 0)`."""
    return pil_affine(image, (1.0, factor, 0.0, 0.0, 1.0, 0.0), fill)


def shear_y(image, factor, fill):
    """timm's `shear_y`: the affine `(1, 0, 0, factor, 1, 0)`."""
    return pil_affine(image, (1.0, 0.0, 0.0, factor, 1.0, 0.0), fill)


def translate_x_rel(image, fraction, fill):
    """timm's `translate_x_rel`: the affine `(1, 0, fraction * width, 0, 1, 0)`."""
    pixels = tf.cast(fraction, "float32") * tf.cast(tf.shape(image)[1], "float32")
    return pil_affine(image, (1.0, 0.0, pixels, 0.0, 1.0, 0.0), fill)


def translate_y_rel(image, fraction, fill):
    """timm's `translate_y_rel`: the affine `(1, 0, 0, 0, 1, fraction * height)`."""
    pixels = tf.cast(fraction, "float32") * tf.cast(tf.shape(image)[0], "float32")
    return pil_affine(image, (1.0, 0.0, 0.0, 0.0, 1.0, pixels), fill)


def _signed(value, negate):
    return tf.where(negate, -value, value)


# timm's level functions (auto_augment.py:180-257): (magnitude in [0, 10] float64, negate bool) -> argument.
def _enhance_level(m, _):
    return m / _MAX_LEVEL * 1.8 + 0.1


def _enhance_increasing_level(m, negate):
    return 1.0 + _signed(m / _MAX_LEVEL * 0.9, negate)


def _posterize_level(m, _):
    return tf.floor(m / _MAX_LEVEL * 4)


def _solarize_level(m, _):
    return tf.floor(m / _MAX_LEVEL * 256)


#: name -> (timm's level function or None, op(image, argument, fill)); auto_augment.py:260-314.
RAND_AUGMENT_OPS = {
    "AutoContrast": (None, lambda image, _, __: auto_contrast(image)),
    "Equalize": (None, lambda image, _, __: equalize(image)),
    "Invert": (None, lambda image, _, __: invert(image)),
    "Rotate": (lambda m, negate: _signed(m / _MAX_LEVEL * 30.0, negate), rotate),
    "Posterize": (_posterize_level, lambda image, bits, _: posterize(image, bits)),
    "PosterizeIncreasing": (lambda m, n: 4 - _posterize_level(m, n), lambda image, bits, _: posterize(image, bits)),
    "Solarize": (_solarize_level, lambda image, threshold, _: solarize(image, threshold)),
    "SolarizeIncreasing": (lambda m, n: 256 - _solarize_level(m, n), lambda image, t, _: solarize(image, t)),
    "SolarizeAdd": (lambda m, _: tf.floor(m / _MAX_LEVEL * 110), lambda image, add, _: solarize_add(image, add)),
    "Color": (_enhance_level, lambda image, factor, _: color(image, factor)),
    "ColorIncreasing": (_enhance_increasing_level, lambda image, factor, _: color(image, factor)),
    "Contrast": (_enhance_level, lambda image, factor, _: contrast(image, factor)),
    "ContrastIncreasing": (_enhance_increasing_level, lambda image, factor, _: contrast(image, factor)),
    "Brightness": (_enhance_level, lambda image, factor, _: brightness(image, factor)),
    "BrightnessIncreasing": (_enhance_increasing_level, lambda image, factor, _: brightness(image, factor)),
    "Sharpness": (_enhance_level, lambda image, factor, _: sharpness(image, factor)),
    "SharpnessIncreasing": (_enhance_increasing_level, lambda image, factor, _: sharpness(image, factor)),
    "ShearX": (lambda m, negate: _signed(m / _MAX_LEVEL * 0.3, negate), shear_x),
    "ShearY": (lambda m, negate: _signed(m / _MAX_LEVEL * 0.3, negate), shear_y),
    "TranslateXRel": (lambda m, negate: _signed(m / _MAX_LEVEL * 0.45, negate), translate_x_rel),
    "TranslateYRel": (lambda m, negate: _signed(m / _MAX_LEVEL * 0.45, negate), translate_y_rel),
}
#: auto_augment.py:542-559 (the default) and 562-579 (selected by an `inc` section).
RAND_TRANSFORMS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
RAND_INCREASING_TRANSFORMS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)


def apply_op(image, name, magnitude, negate=False, fill=(128, 128, 128)):  # timm's _FILL without hparams
    """timm's `AugmentOp(name)` applied at a given (already clipped) magnitude and sign draw."""
    level_fn, op = RAND_AUGMENT_OPS[name]
    magnitude = tf.cast(magnitude, "float64")
    argument = level_fn(magnitude, tf.convert_to_tensor(negate)) if level_fn else None
    return op(tf.cast(image, "float32"), argument, fill)


def parse_rand_augment(config):
    """timm's `rand_augment_transform` string (auto_augment.py:635-682) as
    `{"magnitude", "num_layers", "magnitude_std", "transforms"}`.

    Sections after `rand`, dash-separated: `m<int>` magnitude (default 10), `n<int>` ops per image (default 2),
    `mstd<float>` the magnitude's Gaussian noise (default 0), `inc<anything>` the increasing transforms (timm
    tests `bool(val)` on the string, so `inc0` selects them too). Weighted op choice (`w`) is not supported.

    Examples:
        >>> parse_rand_augment("rand-m9-mstd0.5")["magnitude"], parse_rand_augment("rand-m9-mstd0.5")["num_layers"]
        (9, 2)
    """
    sections = config.split("-")
    if sections[0] != "rand":
        raise ValueError(f"a RandAugment config starts with 'rand', got {config!r}")
    parsed = {"magnitude": int(_MAX_LEVEL), "num_layers": 2, "magnitude_std": 0.0, "transforms": RAND_TRANSFORMS}
    for section in sections[1:]:
        parts = re.split(r"(\d.*)", section)
        if len(parts) < 2:
            continue  # timm skips a section without a number
        key, value = parts[:2]
        if key == "mstd":
            parsed["magnitude_std"] = float(value)
        elif key == "inc":
            parsed["transforms"] = RAND_INCREASING_TRANSFORMS
        elif key == "m":
            parsed["magnitude"] = int(value)
        elif key == "n":
            parsed["num_layers"] = int(value)
        else:
            raise ValueError(f"unsupported RandAugment section {section!r} in {config!r} (supported: m, n, mstd, inc)")
    if not 0 <= parsed["magnitude"] <= _MAX_LEVEL or parsed["num_layers"] < 1 or parsed["magnitude_std"] < 0:
        raise ValueError(f"RandAugment needs 0 <= m <= 10, n >= 1 and mstd >= 0, got {config!r}")
    return parsed


def fill_color(mean):
    """timm's RandAugment fill (`img_mean`, transforms_factory.py:87): `round(255 * mean)` per channel."""
    return tuple(min(255, round(255 * m)) for m in mean)


#: timm's RandAugment fill for ImageNet's mean: (124, 116, 104).
IMAGENET_FILL = fill_color(IMAGENET_MEAN)


def rand_augment_draws(seed, config="rand-m9-mstd0.5", probability=0.5):
    """The random draws of `rand_augment`, per op slot: `(op indices, applied, magnitudes, negate)`.

    timm (auto_augment.py:338-349, 626-632): ops drawn uniformly with replacement; each applied unless
    `random() > probability`; its magnitude `gauss(m, mstd)` clipped to [0, 10]; a signed op's argument negated
    when `random() > 0.5`.
    """
    parsed = parse_rand_augment(config)
    layers = parsed["num_layers"]
    uniforms = tf.random.stateless_uniform([layers, 3], seed, dtype="float64")
    noise = tf.random.stateless_normal([layers], tf.random.experimental.stateless_split(seed, 1)[0], dtype="float64")
    indices = tf.cast(tf.floor(uniforms[:, 0] * len(parsed["transforms"])), "int32")
    magnitudes = tf.clip_by_value(parsed["magnitude"] + parsed["magnitude_std"] * noise, 0.0, _MAX_LEVEL)
    return indices, uniforms[:, 1] <= probability, magnitudes, uniforms[:, 2] > 0.5


def rand_augment(image, seed, config="rand-m9-mstd0.5", fill=IMAGENET_FILL, probability=0.5):
    """timm's RandAugment (`RandAugment`, `AugmentOp`; auto_augment.py:317-349, 613-632) on one image.

    `num_layers` ops (2) drawn from the config's transforms, each applied with probability `probability`
    (timm's 0.5) at a magnitude drawn from N(m, mstd) clipped to [0, 10] (`rand_augment_draws`); the geometric
    ops fill with `fill` and resample bilinearly (timm draws bilinear or bicubic: TF's transform has no bicubic
    kernel).
    """
    transforms = parse_rand_augment(config)["transforms"]
    indices, applied, magnitudes, negate = rand_augment_draws(seed, config, probability)
    image = tf.cast(image, "float32")
    for layer in range(indices.shape[0]):

        def branch(name, image=image, layer=layer):
            return lambda: apply_op(image, name, magnitudes[layer], negate[layer], fill)

        image = tf.where(applied[layer], tf.switch_case(indices[layer], [branch(n) for n in transforms]), image)
    return image


# --- Random erasing (timm v0.4.12, timm/data/random_erasing.py) --------------------------------------------------

ERASE_MODES = ("const", "rand", "pixel")


def random_erasing(image, seed, probability=0.2, area=(0.02, 1 / 3), min_aspect=0.3, mode="pixel"):
    """timm's `RandomErasing(probability, mode=mode)` with one box (`--recount 1`), on a normalised image.

    With probability `probability`: up to 10 tries of an area `area` of the image's and a log-uniform aspect
    ratio (height / width) in `[min_aspect, 1 / min_aspect]`, `h = round(sqrt(area * aspect))`,
    `w = round(sqrt(area / aspect))`; the first try with `h < height` and `w < width` is placed uniformly and
    filled with zeros (`const`), one normal draw per channel (`rand`) or per pixel and channel (`pixel`).
    """
    if not 0 <= probability <= 1:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    _check_range("area", area, 0.0, 1.0)
    if not 0 < min_aspect <= 1:
        raise ValueError(f"min_aspect must be in (0, 1], got {min_aspect}")
    if mode not in ERASE_MODES:
        raise ValueError(f"mode must be one of {ERASE_MODES}, got {mode!r}")
    box_seed, fill_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    uniforms = tf.random.stateless_uniform([_TRIES + 1, 4], box_seed, dtype="float64")
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], "float64"), tf.cast(shape[1], "float64")
    target_area = height * width * (area[0] + (area[1] - area[0]) * uniforms[1:, 0])
    log_aspect = (math.log(min_aspect), -math.log(min_aspect))
    aspect = tf.exp(log_aspect[0] + (log_aspect[1] - log_aspect[0]) * uniforms[1:, 1])
    h, w = tf.round(tf.sqrt(target_area * aspect)), tf.round(tf.sqrt(target_area / aspect))
    fits = (w < width) & (h < height)
    first = tf.argmax(tf.cast(fits, "int32"))
    erase = (uniforms[0, 0] <= probability) & tf.reduce_any(fits)  # timm returns when random() > probability
    box_h, box_w = tf.cast(h[first], "int32"), tf.cast(w[first], "int32")
    top = _randint(uniforms[1 + first, 2], shape[0] - box_h)
    left = _randint(uniforms[1 + first, 3], shape[1] - box_w)
    rows, columns = tf.range(shape[0])[:, None], tf.range(shape[1])[None, :]
    in_box = (rows >= top) & (rows < top + box_h) & (columns >= left) & (columns < left + box_w) & erase
    fill_shape = {"const": [1, 1, shape[2]], "rand": [1, 1, shape[2]], "pixel": shape}[mode]
    fill = tf.random.stateless_normal(fill_shape, fill_seed)
    if mode == "const":
        fill = tf.zeros_like(fill)
    return tf.where(in_box[..., None], tf.broadcast_to(fill, shape), tf.cast(image, "float32"))


# --- The official pipelines ---------------------------------------------------------------------------------------


def torchvision_train_transform(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """`(image, seed) -> image`: `RandomResizedCrop(size)` + `RandomHorizontalFlip()` + `ToTensor()` +
    `Normalize(mean, std)` (the paper's CIFAR loaders with CIFAR's statistics, its ImageNet ResNet-50 with
    ImageNet's)."""

    def transform(image, seed):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = random_horizontal_flip(random_resized_crop(image, crop_seed, size), flip_seed)
        return normalize(image, mean, std)

    return transform


def timm_train_transform(
    size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    auto_augment="rand-m9-mstd0.5",
    erase_probability=0.2,
    erase_mode="pixel",
    interpolation="random",
):
    """`(image, seed) -> image`: timm's `transforms_imagenet_train` as `train.py` builds it for
    `--aa rand-m9-mstd0.5 --reprob 0.2 --remode pixel` (crop with the interpolation drawn, flip 0.5,
    RandAugment filling with `round(255 * mean)`, normalise, random erasing after normalisation as timm's
    prefetcher does)."""
    parse_rand_augment(auto_augment)  # bad configs fail here, not in the first map call
    fill = fill_color(mean)

    def transform(image, seed):
        crop_seed, flip_seed, augment_seed, erase_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
        image = random_resized_crop(image, crop_seed, size, interpolation=interpolation)
        image = rand_augment(random_horizontal_flip(image, flip_seed), augment_seed, auto_augment, fill)
        return random_erasing(normalize(image, mean, std), erase_seed, erase_probability, mode=erase_mode)

    return transform


def eval_transform(resize=256, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bilinear"):
    """`image -> image`: `Resize(resize)` + `CenterCrop(crop)` + `ToTensor()` + `Normalize(mean, std)`
    (torchvision's bilinear; timm's efficientnet_b0 evaluates with bicubic)."""

    def transform(image):
        return normalize(center_crop(resize_shorter_side(image, resize, interpolation), crop), mean, std)

    return transform
