"""The paper's image pipelines (classification/augmentation.py) against NumPy transcriptions of torchvision's and
timm's code and against PIL itself (the library the official pipelines run on)."""

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
Image = pytest.importorskip("PIL.Image")
ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
ImageOps = pytest.importorskip("PIL.ImageOps")

from keras_losses_experiments.classification import augmentation as aug  # noqa: E402

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
LOW_CONTRAST = RNG.integers(60, 140, (12, 16, 3), dtype=np.uint8)
FILL = aug.fill_color(aug.IMAGENET_MEAN)


def _seed(i):
    return tf.constant([7, i], "int64")


def torchvision_crop_box(height, width, uniforms, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision.transforms.RandomResizedCrop.get_params, line by line, its draws replaced by `uniforms`."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for u in uniforms:
        target_area = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        aspect_ratio = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[1])
        w = round(math.sqrt(target_area * aspect_ratio))
        h = round(math.sqrt(target_area / aspect_ratio))
        if 0 < w <= width and 0 < h <= height:
            return int(u[2] * (height - h + 1)), int(u[3] * (width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


@pytest.mark.parametrize(("height", "width"), [(32, 32), (375, 500), (20, 200), (300, 9)])
def test_crop_box_is_torchvisions_sampling(height, width):
    for i in range(40):
        uniforms = tf.random.stateless_uniform([10, 4], _seed(i), dtype="float64")
        ours = [int(v) for v in aug.resized_crop_box(height, width, uniforms)]
        assert ours == list(torchvision_crop_box(height, width, uniforms.numpy())), i


def test_crop_box_falls_back_to_the_center_crop():
    never_fits = tf.constant([[1.0, 0.0, 0.5, 0.5]] * 10, "float64")  # the whole area at ratio 3/4: too tall
    assert [int(v) for v in aug.resized_crop_box(40, 100, never_fits)] == [0, 23, 40, 53]
    assert [int(v) for v in aug.resized_crop_box(100, 40, never_fits)] == [23, 0, 53, 40]


def test_random_resized_crop_is_pil_crop_and_resize():
    image = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for i in range(3):
        box_seed = tf.random.experimental.stateless_split(_seed(i), 2)[0]
        top, left, h, w = (
            int(v)
            for v in aug.resized_crop_box(32, 32, tf.random.stateless_uniform([10, 4], box_seed, dtype="float64"))
        )
        reference = Image.fromarray(image).crop((left, top, left + w, top + h)).resize((224, 224), Image.BILINEAR)
        difference = np.abs(aug.random_resized_crop(tf.constant(image), _seed(i), 224).numpy() - reference)
        assert difference.max() <= 2 and (difference > 1).mean() < 1e-3 and (difference > 0).mean() < 0.1


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_resize_shorter_side_matches_pil_within_one(interpolation):
    image = RNG.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    ours = aug.resize_shorter_side(tf.constant(image), 20, interpolation).numpy()
    assert ours.shape == (20, 33, 3)  # int(20 * 50 / 30): truncated as torchvision's Resize
    pil = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[interpolation]
    difference = np.abs(ours.astype(int) - np.asarray(Image.fromarray(image).resize((33, 20), pil)))
    assert difference.max() <= 2 and (difference > 1).mean() < 1e-3 and (difference > 0).mean() < 0.1
    assert aug.resize_shorter_side(tf.zeros([50, 30, 3]), 20).shape == (33, 20, 3)


def test_center_crop_offsets_round_half_to_even():
    ramp = np.arange(9 * 12 * 3, dtype=np.float32).reshape(9, 12, 3)
    # torchvision: top = round((9 - 4) / 2) = round(2.5) = 2, left = round((12 - 5) / 2) ... square crop 4:
    # left = round(8 / 2) = 4; with a 10-wide image, left = round(3.0) = 3; with 11, round(3.5) = 4.
    np.testing.assert_array_equal(aug.center_crop(tf.constant(ramp), 4).numpy(), ramp[2:6, 4:8])
    np.testing.assert_array_equal(aug.center_crop(tf.constant(ramp[:, :11]), 4).numpy(), ramp[2:6, 4:8])
    np.testing.assert_array_equal(aug.center_crop(tf.constant(ramp[:8, :10]), 4).numpy(), ramp[2:6, 3:7])


def test_normalize_is_totensor_then_normalize_in_float32():
    image = IMAGE.astype(np.float32)
    for mean, std in [(aug.CIFAR_MEAN, aug.CIFAR_STD), (aug.IMAGENET_MEAN, aug.IMAGENET_STD)]:
        expected = (image / np.float32(255) - np.float32(mean)) / np.float32(std)
        np.testing.assert_array_equal(aug.normalize(tf.constant(IMAGE), mean, std).numpy(), expected)
    with pytest.raises(ValueError, match="std"):
        aug.normalize(IMAGE, (0.5,) * 3, (1.0, 0.0, 1.0))


def test_official_statistics():
    assert aug.CIFAR_MEAN == (0.4914, 0.4822, 0.4465) and aug.CIFAR_STD == (0.2470, 0.2435, 0.2616)
    assert aug.IMAGENET_MEAN == (0.485, 0.456, 0.406) and aug.IMAGENET_STD == (0.229, 0.224, 0.225)
    assert FILL == (124, 116, 104)  # round(255 * mean), timm's img_mean


def _pil_op(name, magnitude, negate, image):
    """timm's AugmentOp(name) at a given magnitude and sign, on a PIL image (bilinear resampling)."""
    sign = -1 if negate else 1
    level = magnitude / 10
    affine = {"resample": Image.BILINEAR, "fillcolor": FILL}
    w, h = image.size
    return {
        "AutoContrast": lambda: ImageOps.autocontrast(image),
        "Equalize": lambda: ImageOps.equalize(image),
        "Invert": lambda: ImageOps.invert(image),
        "Rotate": lambda: image.rotate(sign * level * 30, **affine),
        "Posterize": lambda: ImageOps.posterize(image, int(level * 4)),
        "PosterizeIncreasing": lambda: ImageOps.posterize(image, 4 - int(level * 4)),
        "Solarize": lambda: ImageOps.solarize(image, int(level * 256)),
        "SolarizeIncreasing": lambda: ImageOps.solarize(image, 256 - int(level * 256)),
        "SolarizeAdd": lambda: image.point([min(255, i + int(level * 110)) if i < 128 else i for i in range(256)] * 3),
        "Color": lambda: ImageEnhance.Color(image).enhance(level * 1.8 + 0.1),
        "ColorIncreasing": lambda: ImageEnhance.Color(image).enhance(1 + sign * level * 0.9),
        "Contrast": lambda: ImageEnhance.Contrast(image).enhance(level * 1.8 + 0.1),
        "ContrastIncreasing": lambda: ImageEnhance.Contrast(image).enhance(1 + sign * level * 0.9),
        "Brightness": lambda: ImageEnhance.Brightness(image).enhance(level * 1.8 + 0.1),
        "BrightnessIncreasing": lambda: ImageEnhance.Brightness(image).enhance(1 + sign * level * 0.9),
        "Sharpness": lambda: ImageEnhance.Sharpness(image).enhance(level * 1.8 + 0.1),
        "SharpnessIncreasing": lambda: ImageEnhance.Sharpness(image).enhance(1 + sign * level * 0.9),
        "ShearX": lambda: image.transform(image.size, Image.AFFINE, (1, sign * level * 0.3, 0, 0, 1, 0), **affine),
        "ShearY": lambda: image.transform(image.size, Image.AFFINE, (1, 0, 0, sign * level * 0.3, 1, 0), **affine),
        "TranslateXRel": lambda: image.transform(
            image.size, Image.AFFINE, (1, 0, sign * level * 0.45 * w, 0, 1, 0), **affine
        ),
        "TranslateYRel": lambda: image.transform(
            image.size, Image.AFFINE, (1, 0, 0, 0, 1, sign * level * 0.45 * h), **affine
        ),
    }[name]()


GEOMETRIC = {"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}


@pytest.mark.parametrize("name", sorted(aug.RAND_AUGMENT_OPS))
@pytest.mark.parametrize(("magnitude", "negate"), [(9.0, False), (7.3, True)])
def test_each_rand_augment_op_is_timms_on_pil(name, magnitude, negate):
    source = LOW_CONTRAST if name in ("AutoContrast", "Equalize") else IMAGE
    ours = aug.apply_op(tf.constant(source), name, magnitude, negate, FILL).numpy().astype(int)
    reference = np.asarray(_pil_op(name, magnitude, negate, Image.fromarray(source))).astype(int)
    difference = np.abs(ours - reference)
    if name in GEOMETRIC:  # TF's float32 sampling against PIL's double: a rare off-by-one, never more
        assert difference.max() <= 1 and (difference > 0).mean() < 0.05
    else:
        np.testing.assert_array_equal(ours, reference)


def test_posterize_to_zero_bits_is_black_as_in_the_pillow_timm_ran_on():
    np.testing.assert_array_equal(aug.posterize(tf.constant(IMAGE, "float32"), 0).numpy(), 0)
    np.testing.assert_array_equal(aug.posterize(tf.constant(IMAGE, "float32"), 8).numpy(), IMAGE)


def test_rand_augment_config_parsing():
    parsed = aug.parse_rand_augment("rand-m9-mstd0.5")
    assert parsed == {"magnitude": 9, "num_layers": 2, "magnitude_std": 0.5, "transforms": aug.RAND_TRANSFORMS}
    assert aug.parse_rand_augment("rand-m7-n3-inc1")["transforms"] == aug.RAND_INCREASING_TRANSFORMS
    assert aug.parse_rand_augment("rand-n3")["magnitude"] == 10
    for bad in ["augmix-m9", "rand-w0", "rand-m11"]:
        with pytest.raises(ValueError, match="RandAugment"):
            aug.parse_rand_augment(bad)


def test_rand_augment_draws_follow_timms_distribution():
    draws = [aug.rand_augment_draws(_seed(i)) for i in range(1500)]
    indices = np.concatenate([d[0].numpy() for d in draws])
    applied = np.concatenate([d[1].numpy() for d in draws])
    magnitudes = np.concatenate([d[2].numpy() for d in draws])
    negate = np.concatenate([d[3].numpy() for d in draws])
    n = len(indices)
    counts = np.bincount(indices, minlength=15)
    assert len(counts) == 15 and counts.min() > n / 15 * 0.75 and counts.max() < n / 15 * 1.25
    assert abs(applied.mean() - 0.5) < 4 * math.sqrt(0.25 / n) and abs(negate.mean() - 0.5) < 4 * math.sqrt(0.25 / n)
    assert abs(magnitudes.mean() - 9) < 4 * 0.5 / math.sqrt(n) and abs(magnitudes.std() - 0.5) < 0.03
    assert magnitudes.max() <= 10 and magnitudes.min() >= 0
    fixed = aug.rand_augment_draws(_seed(0), "rand-m9")[2].numpy()
    np.testing.assert_array_equal(fixed, [9.0, 9.0])


def test_rand_augment_applies_its_draws_in_order():
    for i in range(12):
        indices, applied, magnitudes, negate = aug.rand_augment_draws(_seed(i))
        expected = tf.constant(IMAGE, "float32")
        for k in range(2):
            if applied[k]:
                name = aug.RAND_TRANSFORMS[int(indices[k])]
                expected = aug.apply_op(expected, name, magnitudes[k], negate[k], FILL)
        np.testing.assert_array_equal(aug.rand_augment(tf.constant(IMAGE), _seed(i)).numpy(), expected.numpy())


def _erased(image, seed, **kwargs):
    return aug.random_erasing(image, seed, **kwargs).numpy() != image.numpy()


def test_random_erasing_probability_and_box():
    image = tf.fill([40, 50, 3], 1000.0)  # a value no normal draw reaches
    seeds = tf.data.Dataset.range(1000).map(lambda i: tf.stack([tf.constant(7, "int64"), i]))
    masks = np.stack(list(seeds.map(lambda seed: aug.random_erasing(image, seed) != image).as_numpy_iterator()))
    erased = masks.any(axis=(1, 2, 3))
    assert abs(erased.mean() - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 1000)
    for mask in masks[erased]:
        rows, columns = np.nonzero(mask.any(axis=(1, 2)))[0], np.nonzero(mask.any(axis=(0, 2)))[0]
        h, w = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert mask.all(axis=2).sum() == h * w  # one box, every channel
        assert h < 40 and w < 50
        # h, w round sqrt(area * aspect), sqrt(area / aspect): their product is the area within rounding
        assert 0.02 * 2000 - (h + w) / 2 - 0.25 <= h * w <= 2000 / 3 + (h + w) / 2 + 0.25
        assert 0.3 - 0.1 <= h / w <= 1 / 0.3 + 1


def test_random_erasing_fills():
    image = tf.fill([64, 64, 3], 1000.0)
    seed = next(_seed(i) for i in range(100) if _erased(image, _seed(i)).any())
    pixel = aug.random_erasing(image, seed).numpy()
    values = pixel[pixel != 1000.0]
    assert values.size > 50 and abs(values.mean()) < 4 / math.sqrt(values.size) and abs(values.std() - 1) < 0.25
    assert set(np.unique(aug.random_erasing(image, seed, mode="const").numpy())) == {0.0, 1000.0}
    per_channel = aug.random_erasing(image, seed, mode="rand").numpy()
    assert all(len(np.unique(per_channel[..., c][per_channel[..., c] != 1000.0])) == 1 for c in range(3))
    np.testing.assert_array_equal(aug.random_erasing(image, seed, probability=0.0).numpy(), image.numpy())
    with pytest.raises(ValueError, match="mode"):
        aug.random_erasing(image, seed, mode="noise")


def test_pipelines_shapes_and_determinism():
    cifar = tf.constant(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    train = aug.torchvision_train_transform(224, aug.CIFAR_MEAN, aug.CIFAR_STD)
    first, again, other = train(cifar, _seed(1)), train(cifar, _seed(1)), train(cifar, _seed(2))
    assert first.shape == (224, 224, 3) and first.dtype == tf.float32
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    timm = aug.timm_train_transform()
    assert timm(cifar, _seed(1)).shape == (224, 224, 3)
    np.testing.assert_array_equal(timm(cifar, _seed(3)).numpy(), timm(cifar, _seed(3)).numpy())
    evaluate = aug.eval_transform(256, 224, aug.CIFAR_MEAN, aug.CIFAR_STD)
    resized = aug.resize_shorter_side(cifar, 256).numpy()
    pil_resized = np.asarray(Image.fromarray(cifar.numpy()).resize((256, 256), Image.BILINEAR))
    assert np.abs(resized - pil_resized).max() == 0  # an integer factor: exact
    expected = aug.normalize(resized[16:240, 16:240], aug.CIFAR_MEAN, aug.CIFAR_STD)
    np.testing.assert_array_equal(evaluate(cifar).numpy(), expected.numpy())
    mapped = tf.data.Dataset.from_tensors((cifar, _seed(1))).map(train)
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), first.numpy())
