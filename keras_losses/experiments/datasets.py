"""Datasets as `tf.data` pipelines: scikit-learn's digits (ships offline) and tensorflow-datasets image sets."""

import contextlib
from dataclasses import dataclass

IMAGE_DATASETS = {
    # name: (test split, default image size)
    "cifar10": ("test", 32),
    "cifar100": ("test", 32),
    "imagenet2012": ("validation", 224),
}
DATASETS = ("digits", *IMAGE_DATASETS)


@dataclass
class Data:
    """Batched pipelines of `(image, label)`; images are float32 (digits in [0, 1], others in [0, 255])."""

    name: str
    train: object
    test: object
    num_classes: int
    input_shape: tuple
    train_size: int


def load(name, batch_size, image_size=None, mock_data=None, seed=0):
    """Loads `name` (one of `DATASETS`) with `batch_size` examples a batch (global batch under a strategy).

    `mock_data=N` serves N random examples per split through `tfds.testing.mock_data`
    (offline); `image_size` resizes the image sets (CIFAR default 32, ImageNet 224).
    """
    if name == "digits":
        return load_digits(batch_size, seed)
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}")
    return load_image_dataset(name, batch_size, image_size, mock_data, seed)


def load_digits(batch_size, seed=0):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes): a fixed stratified 80/20 split."""
    import tensorflow as tf
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target.astype("int32"), test_size=0.2, stratify=digits.target, random_state=0
    )
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return Data("digits", train, test, 10, (8, 8, 1), len(x_train))


def load_image_dataset(name, batch_size, image_size=None, mock_data=None, seed=0):
    """CIFAR-10/100 (pad-4 random crop + flip) or ImageNet (random resized crop + flip; resize-and-center-crop for test)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    test_split, default_size = IMAGE_DATASETS[name]
    size = image_size or default_size
    mocking = tfds.testing.mock_data(num_examples=mock_data) if mock_data else contextlib.nullcontext()
    with mocking:
        (train, test), info = tfds.load(name, split=["train", test_split], as_supervised=True, with_info=True)
        train_size = mock_data or info.splits["train"].num_examples
    num_classes = info.features["label"].num_classes
    imagenet = name == "imagenet2012"

    def train_map(image, label):
        image = _random_resized_crop(image, size, seed) if imagenet else _pad_crop(image, size, seed)
        return tf.image.random_flip_left_right(image, seed=seed), tf.cast(label, "int32")

    def test_map(image, label):
        image = _center_crop(image, size) if imagenet else tf.image.resize(tf.cast(image, "float32"), (size, size))
        return image, tf.cast(label, "int32")

    if not imagenet:
        train, test = train.cache(), test.cache()  # CIFAR fits in memory
    train = (
        train.shuffle(min(train_size, 10_000), seed=seed)
        .map(train_map, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = test.map(test_map, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return Data(name, train, test, num_classes, (size, size, 3), train_size)


def _pad_crop(image, size, seed):
    import tensorflow as tf

    image = tf.image.resize(tf.cast(image, "float32"), (size, size))
    padded = tf.image.pad_to_bounding_box(image, 4, 4, size + 8, size + 8)
    return tf.image.random_crop(padded, (size, size, 3), seed=seed)


def _random_resized_crop(image, size, seed):
    import tensorflow as tf

    begin, crop_size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros([1, 0, 4]),
        min_object_covered=0.1,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0),
        use_image_if_no_bounding_boxes=True,
        seed=seed,
    )
    image = tf.slice(image, begin, crop_size)
    return tf.image.resize(tf.cast(image, "float32"), (size, size))


def _center_crop(image, size):
    """Resize the shorter side to size / 0.875 (256 for 224), then crop the center."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], "float32")
    scale = (size / 0.875) / tf.reduce_min(shape)
    resized = tf.image.resize(tf.cast(image, "float32"), tf.cast(tf.round(shape * scale), "int32"))
    return tf.image.resize_with_crop_or_pad(resized, size, size)
