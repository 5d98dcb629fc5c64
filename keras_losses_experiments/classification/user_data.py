"""The user's own data for `keras-losses compare --data PATH`, read and checked with NumPy only.

- `.npz`: arrays `x_train`, `y_train` and optionally `x_test`, `y_test`; integer labels `0..C-1`.
- `.csv`: a header row, a label column (`--label-column`, integer ids or class names) and numeric features.
- a folder with one sub-folder per class holding images (`.bmp`, `.gif`, `.jpeg`, `.jpg`, `.png`) or `.txt`
  files; or `train/` and `test/` folders laid out so.

Without a test split, a stratified `test_fraction` of the examples is held out (seed 0: the same for every run).
Every problem raises `DataError` naming the file and what is wrong.
"""

import csv
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_losses_experiments.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # keras.utils.image_dataset_from_directory's
TEXT_SUFFIXES = (".txt",)
DEFAULT_TEST_FRACTION = 0.2
SPLIT_SEED = 0
MAX_LABEL = np.iinfo(np.int32).max


@dataclass
class Arrays:
    """Examples in memory: `x` of shape `[N, ...]` (float32), `y` of shape `[N]` (int32 class ids)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    kind: str  # "vector" [N, D], "sequence" [N, T, F] or "image" [N, H, W, C]
    held_out: bool  # the test split was carved from the training examples


@dataclass
class Folder:
    """Files of a class-folder tree, split into training and test files with their class ids."""

    root: Path
    kind: str  # "image" or "text"
    class_names: tuple
    train_files: list
    train_labels: np.ndarray
    test_files: list
    test_labels: np.ndarray
    held_out: bool
    skipped: int  # files of other types, which are not used


def read(path, label_column=None, test_fraction=None):
    """Reads `path` (`.npz`, `.csv` or a folder) into `Arrays` or `Folder`; raises `DataError`."""
    path = Path(path)
    if path.is_dir():
        return read_folder(path, test_fraction)
    if path.suffix.lower() == ".npz":
        return read_npz(path, test_fraction)
    return read_csv(path, label_column or "label", test_fraction)


def read_npz(path, test_fraction=None):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # not a zip, truncated, pickled objects
        raise DataError(f"{path}: cannot read it as a .npz archive of arrays ({error})") from None
    unknown = sorted(set(arrays) - set(NPZ_KEYS))
    missing = [key for key in ("x_train", "y_train") if key not in arrays]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(unknown)}"
        raise DataError(f"{path}: {problem}; expected the arrays x_train, y_train and optionally x_test, y_test")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(
            f"{path}: has {'x_test' if 'x_test' in arrays else 'y_test'} without its pair; give both "
            "x_test and y_test, or neither (a test split is then held out)"
        )
    x_train = _features(path, "x_train", arrays["x_train"])
    y_train = _labels(path, "y_train", arrays["y_train"], len(x_train))
    if "x_test" not in arrays:
        return _hold_out(path, x_train, y_train, None, test_fraction)
    if test_fraction is not None:
        raise DataError(f"{path}: has its own test split (x_test, y_test): no test fraction applies", "test_fraction")
    x_test = _features(path, "x_test", arrays["x_test"])
    y_test = _labels(path, "y_test", arrays["y_test"], len(x_test))
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(f"{path}: x_train has examples of shape {x_train.shape[1:]}, x_test {x_test.shape[1:]}")
    num_classes = _check_classes(path, y_train)
    if y_test.max() >= num_classes:
        raise DataError(f"{path}: y_test has label {y_test.max()}, but y_train's labels are 0..{num_classes - 1}")
    return Arrays(x_train, y_train, x_test, y_test, _ids(num_classes), _kind(x_train), held_out=False)


def read_csv(path, label_column="label", test_fraction=None):
    """A header row, then one example a row: the label column and numeric features.

    Errors name rows counted from the header (row 1), blank lines left out.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read it as a UTF-8 .csv file ({error})") from None
    rows = [row for row in rows if row]  # blank lines
    if len(rows) < 2:
        raise DataError(f"{path}: expected a header row and at least one example row")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    if label_column not in header:
        raise DataError(f"{path}: no column {label_column!r}; the columns are: {', '.join(header)}", "label_column")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: row {number} has {len(row)} fields, the header {len(header)}")
    label_index = header.index(label_column)
    feature_names = [name for i, name in enumerate(header) if i != label_index]
    if not feature_names:
        raise DataError(f"{path}: no feature column besides the label column {label_column!r}")
    x = _csv_features(path, feature_names, [[v for i, v in enumerate(row) if i != label_index] for row in body])
    x = _features(path, "the features", x)
    y, class_names = _csv_labels(path, label_column, [row[label_index].strip() for row in body])
    return _hold_out(path, x, y, class_names, test_fraction)


def _csv_features(path, names, rows):
    """The feature columns as float32; on failure, the first bad cell by line and column."""
    try:
        x = np.array(rows, np.float32)
        if np.isfinite(x).all():
            return x
    except ValueError:
        pass
    for number, row in enumerate(rows, start=2):
        for name, value in zip(names, row):
            try:
                finite = np.isfinite(float(value))
            except ValueError:
                what = "is empty" if not value.strip() else f"{value!r} is not a number"
                raise DataError(f"{path}: row {number}, column {name!r} {what}") from None
            if not finite:
                raise DataError(f"{path}: row {number}, column {name!r} is {value.strip()}; features must be finite")
    raise AssertionError("unreachable: numpy refused the features but every cell is a finite number")


def _csv_labels(path, column, values):
    """Integer class ids as they are, or class names numbered in sorted order."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        if any(not v for v in values):
            raise DataError(f"{path}: column {column!r} has an empty label at row {values.index('') + 2}") from None
        names = tuple(sorted(set(values)))
        return np.array([names.index(v) for v in values], np.int32), names
    return _labels(path, f"column {column!r}", numbers, len(values)), None


def _features(path, name, x):
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: {name} must hold numbers; it holds {x.dtype} values")
    if x.ndim < 2 or x.ndim > 4:
        raise DataError(
            f"{path}: {name} has shape {x.shape}; expected one row per example: [N, features], "
            "[N, time, features] or [N, height, width, channels]"
        )
    if len(x) == 0:
        raise DataError(f"{path}: {name} has no examples")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(x), -1).any(axis=1))[0, 0])
        raise DataError(f"{path}: {name} has {int(bad.sum())} NaN or infinite values (the first in example {first})")
    return x


def _labels(path, name, y, length):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: {name} has shape {y.shape}; expected one integer class id per example [N]")
    if len(y) != length:
        raise DataError(f"{path}: {name} has {len(y)} labels for {length} examples")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{path}: {name} holds {y.dtype} values; labels must be integer class ids 0..C-1")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        bad = y[~(np.isfinite(y) & (y == np.round(y)))][0]
        raise DataError(f"{path}: {name} has the non-integer label {bad}; labels must be integer class ids 0..C-1")
    if y.min() < 0:
        raise DataError(f"{path}: {name} has the negative label {y.min()}; labels must be class ids 0..C-1")
    if y.max() > MAX_LABEL:  # beyond int32 (and far beyond any class count): it would wrap around
        raise DataError(f"{path}: {name} has the label {y.max()}; labels must be class ids 0..C-1")
    return y.astype(np.int32)


def _check_classes(path, y_train):
    """C = max label + 1; every class must have a training example, and there must be two classes."""
    present = np.unique(y_train)  # not np.bincount: one stray huge label would allocate gigabytes
    if len(present) < 2:
        raise DataError(f"{path}: every training example has the label {y_train[0]}: a comparison needs two classes")
    num_classes = int(present[-1]) + 1
    if len(present) < num_classes:
        absent = np.setdiff1d(np.arange(min(num_classes, len(present) + 5)), present)[:5]
        raise DataError(
            f"{path}: labels must be 0..C-1 with every class in the training split; no example of "
            f"class {', '.join(map(str, absent))} (labels go up to {num_classes - 1})"
        )
    return num_classes


def _hold_out(path, x, y, class_names, test_fraction):
    num_classes = _check_classes(path, y)
    train, test = stratified_split(path, y, test_fraction or DEFAULT_TEST_FRACTION, "test_fraction")
    names = class_names or _ids(num_classes)
    return Arrays(x[train], y[train], x[test], y[test], names, _kind(x), held_out=True)


def stratified_split(path, labels, held_out, field=None):
    """Indices (kept, held out), seeded: `held_out` (a fraction, or a count from 1 up) of the examples, each
    class held out in proportion (largest remainders), with at least one example of it on each side. `field`:
    the setting that asked for `held_out` (`DataError.field`), None for a fixed split.

    NumPy rather than scikit-learn's `train_test_split`, whose import (about 2 s) would delay every error.
    """
    classes, counts = np.unique(labels, return_counts=True)
    count = max(int(held_out if held_out >= 1 else round(held_out * len(labels))), len(classes))
    if len(labels) - count < len(classes) or counts.min() < 2:
        raise DataError(
            f"{path}: cannot hold out {held_out:g} of the {len(labels)} examples with every one of the "
            f"{len(classes)} classes on both sides (the smallest class has {counts.min()} examples)",
            field,
        )
    share = counts * count / len(labels)
    per_class = np.clip(np.floor(share).astype(int), 1, counts - 1)
    while per_class.sum() != count:
        room = per_class < counts - 1 if per_class.sum() < count else per_class > 1
        remainder = np.where(room, share - per_class, np.nan)
        step = 1 if per_class.sum() < count else -1
        per_class[np.nanargmax(remainder) if step == 1 else np.nanargmin(remainder)] += step
    rng = np.random.default_rng(SPLIT_SEED)
    held = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, per_class)])
    return np.setdiff1d(np.arange(len(labels)), held), np.sort(held)


def _kind(x):
    return {2: "vector", 3: "sequence", 4: "image"}[x.ndim]


def _ids(num_classes):
    return tuple(str(i) for i in range(num_classes))


def read_folder(root, test_fraction=None):
    """`root/<class>/...` (a test split is held out) or `root/train/<class>/...` and `root/test/<class>/...`."""
    subfolders = _class_folders(root)
    if set(subfolders) == {"train", "test"}:
        if test_fraction is not None:
            raise DataError(f"{root}: has its own test/ folder: no test fraction applies", "test_fraction")
        class_names, train_files, train_labels, skipped = _index(root / "train")
        test_names, test_files, test_labels, test_skipped = _index(root / "test")
        if test_names != class_names:
            raise DataError(
                f"{root}: train/ has the class folders {', '.join(class_names)}, test/ "
                f"{', '.join(test_names)}: they must be the same"
            )
        kind = _folder_kind(root, train_files + test_files)
        return Folder(
            root, kind, class_names, train_files, train_labels, test_files, test_labels, False, skipped + test_skipped
        )
    class_names, files, labels, skipped = _index(root)
    kind = _folder_kind(root, files)
    train, test = stratified_split(root, labels, test_fraction or DEFAULT_TEST_FRACTION, "test_fraction")
    return Folder(
        root,
        kind,
        class_names,
        [files[i] for i in train],
        labels[train],
        [files[i] for i in test],
        labels[test],
        True,
        skipped,
    )


def _class_folders(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _index(root):
    """Class names (sorted folder names, as Keras numbers them), files, their class ids, other files."""
    class_names = _class_folders(root)
    if len(class_names) < 2:
        found = f"only the class folder {class_names[0]!r}" if class_names else "no class folders"
        raise DataError(f"{root}: {found}; expected one sub-folder of examples per class, at least two")
    files, labels, skipped = [], [], 0
    for label, name in enumerate(class_names):
        mine = sorted(p for p in (root / name).rglob("*") if p.is_file())
        usable = [p for p in mine if p.suffix.lower() in IMAGE_SUFFIXES + TEXT_SUFFIXES]
        if not usable:
            raise DataError(
                f"{root / name}: no images ({', '.join(IMAGE_SUFFIXES)}) or .txt files in this class folder"
            )
        files += usable
        labels += [label] * len(usable)
        skipped += len(mine) - len(usable)
    return tuple(class_names), files, np.array(labels, np.int32), skipped


def _folder_kind(root, files):
    """`image` or `text`; checks that every file decodes (a broken file found mid-training is worse)."""
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    if images and len(images) != len(files):
        raise DataError(f"{root}: mixes images and .txt files; a folder holds one or the other")
    if images:
        from PIL import Image

        for path in images:
            try:
                with Image.open(path) as image:
                    image.verify()
            except (OSError, SyntaxError, ValueError) as error:  # what PIL raises for unknown or broken files
                raise DataError(f"{path}: not a readable image ({error})") from None
        return "image"
    for path in files:
        try:
            path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable UTF-8 text file ({error})") from None
    return "text"


def fingerprint(path):
    """A SHA-256 of the file, or of a folder's file names and sizes: a changed data set is a changed run."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path)}\0{file.stat().st_size}\0".encode())
    else:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
