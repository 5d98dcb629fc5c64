"""Data sets as `tf.data` pipelines: scikit-learn's digits (ships offline), tensorflow-datasets classification
sets, and the user's own arrays or class folders (read and checked by `user_data`).

`examples(...)` returns the splits as unbatched `(x, y)` datasets; `Examples.epoch_batches(batch_size, seed,
data_epoch)` is one pass over the training split, shuffled (and, for CIFAR/ImageNet, augmented) with seeds
derived from `seed` and the pass's number alone (`resume.epoch_seed`): two runs with the same seed see the
same batches, and a resumed run sees the batches of the epoch it resumes at. `load(...)` is the batched form
the examples use.
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path

from keras_losses_experiments.classification import user_data
from keras_losses_experiments.errors import ConfigError

IMAGE_DATASETS = {
    # name: (test split, default image size)
    "cifar10": ("test", 32),
    "cifar100": ("test", 32),
    "imagenet2012": ("validation", 224),
}
DATASETS = ("digits", *IMAGE_DATASETS)
VALIDATION_CAP = 10_000  # examples held out for the temperature, at most
DEFAULT_IMAGE_SIZE = 64  # image folders, and tensorflow-datasets sets whose images vary in size
TEXT_VOCABULARY = 20_000  # tokens kept by TextVectorization (the most frequent in the training split)
TEXT_LENGTH = 200  # tokens per text (padded or truncated)
CACHE_BYTES = 2**30  # decoded examples of a folder are cached in memory below this size
SHUFFLE_BUFFER = 10_000


@dataclass
class Data:
    """Batched pipelines of `(image, label)`; images are float32 (digits in [0, 1], others in [0, 255]).

    `epoch_batches(data_epoch)`: one pass over the training split (`Examples.epoch_batches`, the seed given)."""

    name: str
    epoch_batches: object
    test: object
    num_classes: int
    input_shape: tuple
    train_size: int
    examples: object = None  # the `Examples` batched here


@dataclass
class Examples:
    """The splits of a data set as unbatched, prepared `(x, y)` datasets (labels int32)."""

    name: str
    kind: str  # "vector", "image", "sequence" or "text" (token ids): see models.py
    num_classes: int
    input_shape: tuple
    train: object
    validation: object  # None without a validation split
    test: object
    sizes: dict  # examples per split
    augment: object = None  # (x, y, seed [2]) -> (x, y), stateless, applied to training examples after shuffling
    pipeline: object = None  # the `vision.Pipeline` that made `augment` and the test transform, if one did
    drop_remainder: bool = False
    vocabulary_size: int | None = None
    class_names: tuple | None = None

    def epoch_batches(self, batch_size, seed, data_epoch):
        """Pass `data_epoch` (an integer or an int64 scalar tensor) over the training split: shuffled, augmented
        (each example with a seed of its own), batched; a function of `seed` and `data_epoch` alone."""
        import tensorflow as tf

        from keras_losses_experiments.training.resume import epoch_seed, example_seeds

        pass_seed = epoch_seed(seed, data_epoch)
        # The same order however often the pass is iterated (Keras' JAX and Mirrored `fit` draw a first batch
        # from an iterator of their own before training).
        dataset = self.train.shuffle(
            min(self.sizes["train"], SHUFFLE_BUFFER), seed=pass_seed, reshuffle_each_iteration=False
        )
        if self.augment is not None:
            dataset = example_seeds(pass_seed, dataset).map(self.augment, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch_size, drop_remainder=self.drop_remainder).prefetch(tf.data.AUTOTUNE)

    def batches(self, split, batch_size):
        import tensorflow as tf

        return getattr(self, split).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def steps_per_epoch(self, batch_size):
        size = self.sizes["train"]
        return size // batch_size if self.drop_remainder else -(-size // batch_size)


def load(name, batch_size, image_size=None, mock_data=None, seed=0, pipeline=None):
    """Loads `name` (one of `DATASETS`) with `batch_size` examples a batch (global batch under a strategy).

    `mock_data=N` serves N random examples per split through `tfds.testing.mock_data`
    (offline); `image_size` resizes the image sets (CIFAR default 32, ImageNet 224; 224 with
    `--augment resized_crop`); `pipeline` is a `vision.Pipeline` (None: the data set's own).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}")
    data = examples(name, image_size=image_size, mock_data=mock_data, pipeline=pipeline)
    return Data(
        name,
        lambda data_epoch: data.epoch_batches(batch_size, seed, data_epoch),
        data.batches("test", batch_size),
        data.num_classes,
        data.input_shape,
        data.sizes["train"],
        data,
    )


def examples(name, image_size=None, mock_data=None, validation_fraction=0.0, test_fraction=None, pipeline=None):
    """`digits` or a tensorflow-datasets classification set, with `validation_fraction` of the training
    examples held out (at most `VALIDATION_CAP`); `pipeline`: see `load`."""
    if name == "digits":
        return digits(validation_fraction)
    return tfds_examples(name, image_size, mock_data, validation_fraction, test_fraction, pipeline)


def digits(validation_fraction=0.0):
    """scikit-learn's 8x8 handwritten digits (1,797 images in [0, 1], 10 classes): a fixed stratified 80/20
    train/test split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    labels = digits.target.astype("int32")
    train, test = user_data.stratified_split("digits", labels, 0.2)
    arrays = user_data.Arrays(
        images[train],
        labels[train],
        images[test],
        labels[test],
        tuple(str(i) for i in range(10)),
        "image",
        held_out=True,
    )
    return from_arrays("digits", arrays, validation_fraction)


def from_arrays(name, arrays, validation_fraction=0.0):
    """`Examples` of in-memory `user_data.Arrays`."""
    import tensorflow as tf

    x, y = arrays.x_train, arrays.y_train
    validation = None
    if validation_fraction:
        kept, held = user_data.stratified_split(name, y, _held_out(validation_fraction, len(y)), "validation_fraction")
        validation = tf.data.Dataset.from_tensor_slices((x[held], y[held]))
        x, y = x[kept], y[kept]
    return Examples(
        name,
        arrays.kind,
        len(arrays.class_names),
        tuple(x.shape[1:]),
        train=tf.data.Dataset.from_tensor_slices((x, y)),
        validation=validation,
        test=tf.data.Dataset.from_tensor_slices((arrays.x_test, arrays.y_test)),
        sizes={"train": len(y), "validation": 0 if validation is None else len(held), "test": len(arrays.y_test)},
        class_names=arrays.class_names,
    )


def _held_out(fraction, size):
    """`fraction` of `size` examples, at most `VALIDATION_CAP`."""
    return min(round(fraction * size), VALIDATION_CAP) if fraction * size >= 1 else fraction


def from_folder(folder, image_size=None, validation_fraction=0.0):
    """`Examples` of a `user_data.Folder`: images resized to `image_size` (default 64) with
    `keras.utils.image_dataset_from_directory`, or texts from `text_dataset_from_directory` turned into
    `TEXT_LENGTH` token ids by a `TextVectorization` layer adapted to the training texts."""
    train_files, train_labels, validation_files = folder.train_files, folder.train_labels, []
    if validation_fraction:
        kept, held = user_data.stratified_split(
            folder.root, train_labels, _held_out(validation_fraction, len(train_labels)), "validation_fraction"
        )
        validation_files = [train_files[i] for i in held]
        train_files, train_labels = [train_files[i] for i in kept], train_labels[kept]
    size = image_size or DEFAULT_IMAGE_SIZE
    root = folder.root / "train" if not folder.held_out else folder.root
    test_root = folder.root / "test" if not folder.held_out else folder.root
    splits = {
        "train": _folder_subset(folder, root, train_files, size),
        "validation": _folder_subset(folder, root, validation_files, size) if validation_files else None,
        "test": _folder_subset(folder, test_root, folder.test_files, size),
    }
    sizes = {"train": len(train_files), "validation": len(validation_files), "test": len(folder.test_files)}
    name, classes = str(folder.root), len(folder.class_names)
    if folder.kind == "image":
        if sizes["train"] * size * size * 3 * 4 < CACHE_BYTES:
            splits = {k: None if v is None else v.cache() for k, v in splits.items()}
        return Examples(name, "image", classes, (size, size, 3), **splits, sizes=sizes, class_names=folder.class_names)
    vectorize = _text_vectorization(splits["train"])
    splits = {k: None if v is None else v.map(lambda t, y: (vectorize(t), y)).cache() for k, v in splits.items()}
    return Examples(
        name,
        "text",
        classes,
        (TEXT_LENGTH,),
        **splits,
        sizes=sizes,
        vocabulary_size=vectorize.vocabulary_size(),
        class_names=folder.class_names,
    )


def _folder_subset(folder, root, files, size):
    """The examples of `files` (under `root`): images through `keras.utils.image_dataset_from_directory` (decoded
    as RGB, resized to `size` x `size`), texts read whole as `keras.utils.text_dataset_from_directory` does."""
    import keras
    import numpy as np
    import tensorflow as tf

    if folder.kind == "text":
        labels = [folder.class_names.index(Path(f).relative_to(root).parts[0]) for f in files]
        paths_and_labels = tf.data.Dataset.from_tensor_slices(([str(f) for f in files], np.array(labels, "int32")))
        return paths_and_labels.map(lambda path, y: (tf.io.read_file(path), y))
    dataset = keras.utils.image_dataset_from_directory(
        root,
        labels="inferred",
        label_mode="int",
        class_names=list(folder.class_names),
        image_size=(size, size),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    wanted = {str(f) for f in files}
    keep = tf.constant(np.array([path in wanted for path in dataset.file_paths]))
    subset = dataset.enumerate().filter(lambda i, example: tf.gather(keep, i)).map(lambda i, example: example)
    return subset.map(lambda x, y: (x, tf.cast(y, "int32"))).apply(tf.data.experimental.assert_cardinality(len(files)))


def _text_vectorization(texts):
    import keras

    vectorize = keras.layers.TextVectorization(max_tokens=TEXT_VOCABULARY, output_sequence_length=TEXT_LENGTH)
    vectorize.adapt(texts.map(lambda text, label: text).batch(256))
    return vectorize


@dataclass(frozen=True)
class TfdsSource:
    """What a tensorflow-datasets set holds, from its builder's info (read before loading any data)."""

    input_key: str
    kind: str  # "image", "vector", "sequence" or "text"
    shape: tuple  # of one example; None where it varies
    num_classes: int
    test_split: str | None


def describe_tfds(name):
    """Checks that `name` is a classification set with a `label` and an image, numeric or text input."""
    import numpy as np
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except (ValueError, AssertionError) as error:  # DatasetNotFoundError, a bad config or version
        first = str(error).splitlines()[0]
        raise ConfigError("dataset", f"{first} (tensorflow_datasets.list_builders() lists the names)") from None
    features = builder.info.features
    label = features["label"] if "label" in features else None  # noqa: SIM401 (a FeaturesDict has no .get)
    if not isinstance(label, tfds.features.ClassLabel):
        raise ConfigError("dataset", f"{name} has no class label: compare needs a 'label' feature of class ids")
    keys = builder.info.supervised_keys
    inputs = [keys[0]] if keys and keys[1] == "label" else [k for k in features if k not in ("label", "id")]
    if len(inputs) != 1:
        raise ConfigError("dataset", f"{name} has the inputs {', '.join(inputs)}; compare takes one input feature")
    feature = features[inputs[0]]
    shape = tuple(feature.shape)
    if isinstance(feature, tfds.features.Image):
        kind = "image"
    elif isinstance(feature, tfds.features.Text):
        kind = "text"
    elif (
        isinstance(feature, tfds.features.Tensor)
        and np.dtype(feature.np_dtype).kind in "biuf"
        and len(shape) in (1, 2, 3)
        and None not in shape
    ):
        kind = {1: "vector", 2: "sequence", 3: "image"}[len(shape)]
    else:
        raise ConfigError(
            "dataset",
            f"{name}'s input {inputs[0]!r} is {type(feature).__name__}{shape}: compare "
            "takes images, numbers of a fixed shape ([features] or [time, features]) or text",
        )
    splits = set(builder.info.splits) or {"train", "test"}  # unprepared sets list no splits
    test_split = "test" if "test" in splits else "validation" if "validation" in splits else None
    return TfdsSource(inputs[0], kind, shape, label.num_classes, test_split)


def tfds_examples(name, image_size=None, mock_data=None, validation_fraction=0.0, test_fraction=None, pipeline=None):
    """A tensorflow-datasets set: CIFAR (pad-4 random crop + flip), ImageNet (random resized crop + flip;
    resize-and-center-crop to test), any other set with images resized to `image_size`, numbers as they are,
    text as token ids. Splits carved from `train` are contiguous slices (not stratified)."""
    import tensorflow_datasets as tfds

    source = describe_tfds(name)
    if source.test_split and test_fraction is not None:
        raise ConfigError("test_fraction", f"{name} has a {source.test_split} split")
    if image_size and source.kind != "image":
        raise ConfigError("image_size", f"{name} has no images to resize ({source.kind} inputs)")
    mocking = tfds.testing.mock_data(num_examples=mock_data) if mock_data else contextlib.nullcontext()
    with mocking:
        if not mock_data:
            tfds.builder(name).download_and_prepare()
        sizes, ranges = _tfds_ranges(name, source, mock_data, validation_fraction, test_fraction)
        splits = {
            split: _tfds_split(name, source, base, start, stop, mock_data)
            for split, (base, start, stop) in ranges.items()
        }
    return _prepared(name, source, splits, sizes, image_size, pipeline)


def _tfds_ranges(name, source, mock_data, validation_fraction, test_fraction):
    """(examples per split, {split: (tfds split, first, end)}); validation and a missing test split come
    from the end of `train`."""
    import tensorflow_datasets as tfds

    info = tfds.builder(name).info
    total = mock_data or info.splits["train"].num_examples
    ranges = {}
    if source.test_split:
        test_size = mock_data or info.splits[source.test_split].num_examples
        ranges["test"] = (source.test_split, 0, test_size)
    else:
        test_size = max(1, round((test_fraction or user_data.DEFAULT_TEST_FRACTION) * total))
        ranges["test"] = ("train", total - test_size, total)
        total -= test_size
    held = 0
    if validation_fraction:
        held = max(1, min(round(validation_fraction * total), VALIDATION_CAP))
        ranges["validation"] = ("train", total - held, total)
    ranges["train"] = ("train", 0, total - held)
    sizes = {"train": total - held, "validation": held, "test": test_size}
    return sizes, ranges


def _tfds_split(name, source, base, start, stop, mock_data):
    import tensorflow_datasets as tfds

    def pair(example):
        return example[source.input_key], example["label"]

    if mock_data:  # mock_data serves whole splits and ignores slices
        return tfds.load(name, split=base).skip(start).take(stop - start).map(pair)
    return tfds.load(name, split=f"{base}[{start}:{stop}]").map(pair)


def _prepared(name, source, splits, sizes, image_size, pipeline=None):
    """Casts, resizes and (for the sets with a recipe) augments; caches the examples as stored, except ImageNet's.
    A `pipeline` with `augment="resized_crop"`: `_resized_crop_pipeline`."""
    import tensorflow as tf

    if name != "imagenet2012":
        splits = {s: d.cache() for s, d in splits.items()}

    def prepare(transform):
        return {
            s: splits[s].map(lambda x, y: (transform(x), tf.cast(y, "int32")), num_parallel_calls=tf.data.AUTOTUNE)
            if s in splits
            else None
            for s in ("train", "validation", "test")
        }

    if source.kind == "text":
        vectorize = _text_vectorization(splits["train"])
        return Examples(
            name,
            "text",
            source.num_classes,
            (TEXT_LENGTH,),
            **prepare(vectorize),
            sizes=sizes,
            vocabulary_size=vectorize.vocabulary_size(),
        )
    if source.kind != "image":
        return Examples(
            name, source.kind, source.num_classes, source.shape, **prepare(lambda x: tf.cast(x, "float32")), sizes=sizes
        )
    resized_crop = pipeline is not None and pipeline.augment == "resized_crop"
    own_size = IMAGE_DATASETS.get(name, (None, None))[1] or _fixed_size(source.shape) or DEFAULT_IMAGE_SIZE
    size = image_size or (224 if resized_crop else own_size)
    shape = (size, size, source.shape[-1] or 3)
    if resized_crop:
        train, test = _resized_crop_pipeline(pipeline, size)
        prepared = prepare(test)
        prepared["train"] = prepare(lambda image: tf.cast(image, "float32"))["train"]
        augment, drop_remainder = (lambda image, label, seed: (train(image, seed), label)), True
    elif name == "imagenet2012":
        prepared = prepare(lambda image: _center_crop(image, size))
        prepared["train"] = prepare(tf.identity)["train"]  # cropped at random by the augmentation
        augment, drop_remainder = _imagenet_augment(size), True
    else:
        prepared = prepare(lambda image: tf.image.resize(tf.cast(image, "float32"), (size, size)))
        known = name in IMAGE_DATASETS  # the CIFAR sets; other tfds image sets are neither augmented nor cut
        augment, drop_remainder = (_cifar_augment(size) if known else None), known
    return Examples(
        name,
        "image",
        source.num_classes,
        shape,
        **prepared,
        sizes=sizes,
        augment=augment,
        drop_remainder=drop_remainder,
        pipeline=pipeline if resized_crop else None,
    )


def _resized_crop_pipeline(pipeline, size):
    """(train `(image, seed) -> image`, test `image -> image`) of the paper's pipelines (`augmentation`):
    RandomResizedCrop(size) (`train_interpolation`) + flip [+ timm's RandAugment], normalised with the pipeline's
    statistics [+ timm's per-pixel random erasing], each draw from its own part of the example's seed. Test:
    resize to `int(size * 256 / 224)` (256 for 224: torchvision's `Resize(256)`, the CIFAR loaders'
    `int(image_size * 256 / 224)`, timm's crop_pct 0.875) and center crop `size`."""
    from keras_losses_experiments.classification import augmentation

    mean, std = {
        "cifar": (augmentation.CIFAR_MEAN, augmentation.CIFAR_STD),
        "imagenet": (augmentation.IMAGENET_MEAN, augmentation.IMAGENET_STD),
    }[pipeline.normalization]
    test = augmentation.eval_transform(int(size * 256 / 224), size, mean, std, pipeline.test_interpolation)
    if pipeline.randaugment is not None:
        try:
            augmentation.parse_rand_augment(pipeline.randaugment)
        except ValueError as error:
            raise ConfigError("randaugment", str(error)) from None
    fill = augmentation.fill_color(mean)

    def train(image, seed):
        import tensorflow as tf

        crop_seed, flip_seed, augment_seed, erase_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
        image = augmentation.random_resized_crop(image, crop_seed, size, interpolation=pipeline.train_interpolation)
        image = augmentation.random_horizontal_flip(image, flip_seed)
        if pipeline.randaugment is not None:
            image = augmentation.rand_augment(image, augment_seed, pipeline.randaugment, fill)
        image = augmentation.normalize(image, mean, std)
        if pipeline.random_erasing:
            image = augmentation.random_erasing(image, erase_seed, pipeline.random_erasing, mode="pixel")
        return image

    return train, test


def _fixed_size(shape):
    return shape[0] if shape[0] is not None and shape[0] == shape[1] else None


def _cifar_augment(size):
    import tensorflow as tf

    def augment(image, label, seed):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        padded = tf.image.pad_to_bounding_box(image, 4, 4, size + 8, size + 8)
        image = tf.image.stateless_random_crop(padded, (size, size, 3), seed=crop_seed)
        return tf.image.stateless_random_flip_left_right(image, seed=flip_seed), label

    return augment


def _imagenet_augment(size):
    import tensorflow as tf

    def augment(image, label, seed):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.zeros([1, 0, 4]),
            seed=crop_seed,
            min_object_covered=0.1,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            use_image_if_no_bounding_boxes=True,
        )
        image = tf.image.resize(tf.cast(tf.slice(image, begin, crop_size), "float32"), (size, size))
        return tf.image.stateless_random_flip_left_right(image, seed=flip_seed), label

    return augment


def _center_crop(image, size):
    """Resize the shorter side to size / 0.875 (256 for 224), then crop the center."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], "float32")
    scale = (size / 0.875) / tf.reduce_min(shape)
    resized = tf.image.resize(tf.cast(image, "float32"), tf.cast(tf.round(shape * scale), "int32"))
    return tf.image.resize_with_crop_or_pad(resized, size, size)
