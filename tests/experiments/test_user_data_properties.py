"""Property-based tests (Hypothesis) of `keras-losses compare --data`: generated malformed `.csv`, `.npz` files and
class folders either read (and nothing is trained here) or answer with the documented one-line error, exit
status 2, never a traceback. What is read must hold what the format promises (`assert_usable`), and an input
that breaks a documented rule, judged here from the generated input alone (`npz_problem`, `csv_problem`), must
be refused. The examples' number is set by the Hypothesis profile (tests/conftest.py)."""

import contextlib
import csv
import io
import math
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from keras_losses_experiments import cli
from keras_losses_experiments.classification import user_data
from keras_losses_experiments.comparison import compare


class Accepted(Exception):
    """`compare.prepare` read the data without an error (the test stops there: nothing is trained)."""


def run_compare(path, *flags):
    """`keras-losses compare --data PATH`, up to the reading of the data: the data read when it is accepted
    (`user_data.Arrays` or `Folder`), else (the exit status, stderr)."""
    real_prepare = compare.prepare
    read = []

    def prepare_only(settings):
        read.append(real_prepare(settings).data)
        raise Accepted

    stderr = io.StringIO()
    with mock.patch.object(compare, "prepare", prepare_only), contextlib.redirect_stderr(stderr):
        try:
            cli.main(["compare", "--data", str(path), "--output-dir", str(path.parent / "out"), *flags])
        except Accepted:
            return read[0]
        except SystemExit as exit_:
            return exit_.code, stderr.getvalue()
    raise AssertionError("cli.main returned without training and without an error")


def check_answer(path, *flags, problem=None):
    """The data read and usable, or the one-line error; `problem`: a documented rule the input breaks (it must
    then be refused)."""
    answer = run_compare(path, *flags)
    if not isinstance(answer, tuple):
        assert problem is None, f"accepted, but {problem}"
        assert_usable(answer)
        return
    status, stderr = answer
    assert "Traceback" not in stderr, stderr
    assert status == 2, stderr
    line = stderr.strip()
    assert "\n" not in line and line.startswith("keras-losses compare: error: "), stderr
    assert str(path) in line, stderr  # the file or folder (or a file in it) is named
    assert not (path.parent / "out").exists()  # nothing started


def assert_usable(data):
    """What `--data` promises the training: class ids 0..C-1 (C >= 2, every class on both sides of the split),
    as many labels as examples; for arrays, finite float32 features of one shape per example; for folders,
    files of one kind that exist."""
    if isinstance(data, user_data.Arrays):
        splits = [(data.x_train, data.y_train), (data.x_test, data.y_test)]
        for x, y in splits:
            assert x.dtype == np.float32 and 2 <= x.ndim <= 4 and np.isfinite(x).all()
            assert x.shape[1:] == data.x_train.shape[1:] and len(x) == len(y) > 0
    else:
        splits = [(data.train_files, data.train_labels), (data.test_files, data.test_labels)]
        suffixes = user_data.IMAGE_SUFFIXES if data.kind == "image" else user_data.TEXT_SUFFIXES
        for files, labels in splits:
            assert len(files) == len(labels) > 0
            assert all(f.is_file() and f.suffix.lower() in suffixes for f in files)
    num_classes = len(data.class_names)
    assert num_classes >= 2
    for _, y in splits:
        assert y.dtype == np.int32 and y.min() >= 0 and y.max() < num_classes
    assert set(np.unique(data.y_train if isinstance(data, user_data.Arrays) else data.train_labels)) == set(
        range(num_classes)
    )


CELLS = st.one_of(
    st.sampled_from(["0", "1", "2", "-1", "1.5", "nan", "inf", "-inf", "", " ", "x", "cat", "1e400", '"1,2"', "0x1"]),
    st.integers(-3, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=4),
)
COLUMN_NAMES = st.one_of(st.sampled_from(["label", "a", "b", " label", "label ", ""]), st.text(max_size=3))


@st.composite
def csv_texts(draw):
    header = draw(st.lists(COLUMN_NAMES, min_size=0, max_size=4))
    width = st.integers(max(len(header) - 1, 0), len(header) + 1)
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=12))
    if draw(st.booleans()):  # mostly rows of the header's width, so that the later checks are reached
        rows = [(row + ["1"] * len(header))[: draw(width)] for row in rows]
    separator = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return separator.join(",".join(row) for row in [header, *rows]) + draw(st.sampled_from(["", "\n"]))


def csv_problem(content, label_column):
    """A rule of the documented .csv format that `content` breaks, or None (then it may still be refused, e.g.
    for a class too small to split)."""
    try:
        rows = [row for row in csv.reader(io.StringIO(content.decode("utf-8"), newline="")) if row]
    except (UnicodeDecodeError, csv.Error):
        return "not a UTF-8 .csv file"
    if len(rows) < 2:
        return "no header row and example row"
    header = [name.strip() for name in rows[0]]
    if label_column not in header:
        return "no label column"
    if any(len(row) != len(header) for row in rows[1:]):
        return "rows of another width than the header"
    if len(header) < 2:
        return "no feature column"
    label = header.index(label_column)
    for row in rows[1:]:
        for i, cell in enumerate(row):
            if i != label:
                try:
                    if not math.isfinite(float(cell)):
                        return "a feature that is not finite"
                except ValueError:
                    return "a feature that is not a number"
    return None


@given(
    content=st.one_of(csv_texts().map(lambda t: t.encode("utf-8")), st.binary(max_size=64)),
    label_column=st.sampled_from([None, "a", "missing"]),
)
def test_generated_csv_files_read_or_answer_one_line(content, label_column):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.csv"
        path.write_bytes(content)
        problem = csv_problem(content, label_column or "label")
        check_answer(path, *(["--label-column", label_column] if label_column else []), problem=problem)


DTYPES = st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.uint8, np.bool_, np.complex64, "U2"])
SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=5).map(tuple)


@st.composite
def npz_arrays(draw):
    """A dict of arrays under the expected names (and a few others) of any dtype and shape."""
    names = draw(st.sets(st.sampled_from([*user_data.NPZ_KEYS, "x_val", "labels"]), max_size=5))
    if draw(st.booleans()):
        names |= {"x_train", "y_train"}
    out = {}
    length = draw(st.integers(0, 12))
    for name in sorted(names):
        if name.startswith("y") and draw(st.booleans()):  # often near-valid labels, to reach the later checks
            elements = st.one_of(st.integers(-1, 4), st.sampled_from([2**31, 2**40, 10**12]))
            out[name] = draw(arrays(np.int64, (draw(st.sampled_from([length, 20])),), elements=elements))
        elif name.startswith("x") and draw(st.booleans()):  # often near-valid features
            out[name] = draw(arrays(np.float32, (length, 2), elements=st.sampled_from([0.0, 1.0, np.nan])))
        else:
            out[name] = draw(arrays(draw(DTYPES), draw(SHAPES)))
    return out


@given(arrays_=npz_arrays(), garbage=st.one_of(st.none(), st.binary(max_size=64)), truncate=st.integers(0, 3))
# Labels beyond int32 wrapped around (a ValueError from np.bincount, a traceback); 2**31 allocated 16 GB.
@example(arrays_={"x_train": np.ones((4, 2)), "y_train": np.array([0, 1, 1, 10**12])}, garbage=None, truncate=0)
@example(arrays_={"x_train": np.ones((4, 2)), "y_train": np.array([0, 1, 1, 2**31])}, garbage=None, truncate=0)
def test_generated_npz_files_read_or_answer_one_line(arrays_, garbage, truncate):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.npz"
        if garbage is not None:
            path.write_bytes(garbage)
            problem = "not an .npz archive" if not garbage.startswith(b"PK") else None
        else:
            np.savez(path, **arrays_)
            problem = npz_problem(arrays_)
            if truncate:  # a cut-off download
                content = path.read_bytes()
                path.write_bytes(content[: len(content) * truncate // 4])
                problem = "a truncated archive"
        check_answer(path, problem=problem)


def npz_problem(arrays_):
    """A rule of the documented .npz format that `arrays_` breaks, or None (then it may still be refused, e.g.
    for a class too small to split)."""
    if not {"x_train", "y_train"} <= set(arrays_) or not set(arrays_) <= set(user_data.NPZ_KEYS):
        return "not exactly x_train, y_train and optionally x_test, y_test"
    if ("x_test" in arrays_) != ("y_test" in arrays_):
        return "x_test without y_test or the reverse"
    for x_name, y_name in (("x_train", "y_train"), ("x_test", "y_test")):
        if x_name not in arrays_:
            continue
        x, y = arrays_[x_name], np.asarray(arrays_[y_name])
        y = y[:, 0] if y.ndim == 2 and y.shape[1:] == (1,) else y
        if x.dtype.kind not in "biuf" or not 2 <= x.ndim <= 4 or len(x) == 0:
            return f"{x_name} is not a non-empty array of numbers [N, ...]"
        if not np.isfinite(x.astype(np.float64)).all():
            return f"{x_name} has NaN or infinite values"
        if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "biuf":
            return f"{y_name} is not one number per example"
        if not (np.isfinite(y).all() and (y == np.round(y)).all() and (y >= 0).all()):
            return f"{y_name} has a label that is not a class id"
    if len(np.unique(np.asarray(arrays_["y_train"]).ravel())) < 2:
        return "fewer than two classes"
    return None


def tiny_png():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    return buffer.getvalue()


FILE_NAMES = st.sampled_from(["a.txt", "b.png", "c.jpg", "d.bin", "e", ".hidden.txt", "f.TXT", "g.PNG"])
CONTENTS = st.one_of(st.sampled_from([b"", b"some words", b"\xff\xfe", "png"]), st.binary(max_size=16))
CLASS_NAMES = st.sampled_from(["cat", "dog", "eel", ".git", "train", "test"])


@st.composite
def folder_trees(draw, depth=0):
    """{name: bytes (a file) or a dict (a folder)}."""
    tree = {}
    for name in draw(st.sets(CLASS_NAMES, max_size=3)):
        if depth == 0 and draw(st.booleans()):
            tree[name] = draw(folder_trees(depth=1))
            continue
        tree[name] = {file: draw(CONTENTS) for file in draw(st.sets(FILE_NAMES, max_size=3))}
    for file in draw(st.sets(FILE_NAMES, max_size=1)):
        tree[file] = draw(CONTENTS)
    return tree


def write_tree(root, tree, png):
    root.mkdir(exist_ok=True)
    for name, content in tree.items():
        if isinstance(content, dict):
            write_tree(root / name, content, png)
        else:
            (root / name).write_bytes(png if content == "png" else content)


@given(tree=folder_trees(), test_fraction=st.sampled_from([None, "0.5"]))
def test_generated_folders_read_or_answer_one_line(tree, test_fraction):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "data"
        write_tree(root, tree, tiny_png())
        check_answer(root, *(["--test-fraction", test_fraction] if test_fraction else []))


@st.composite
def valid_arrays(draw):
    """Arrays every documented rule accepts: 2 to 4 classes of 3 to 6 examples each, finite features."""
    counts = draw(st.lists(st.integers(3, 6), min_size=2, max_size=4))
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[draw(st.permutations(range(len(y))))]
    shape = draw(st.sampled_from([(2,), (3, 2), (2, 2, 1)]))
    x = draw(arrays(np.float32, (len(y), *shape), elements=st.floats(-1e3, 1e3, width=32)))
    return {"x_train": x, "y_train": y.astype(draw(st.sampled_from([np.int64, np.int32, np.float64])))}


#: One documented rule each breaks, applied to valid arrays.
NPZ_CORRUPTIONS = {
    "NaN feature": lambda a: {**a, "x_train": np.where(np.arange(len(a["x_train"]))[:, None] == 1, np.nan, 1.0)},
    "infinite feature": lambda a: {**a, "x_train": a["x_train"] * 0 + np.float32(np.inf)},
    "text features": lambda a: {**a, "x_train": a["x_train"].astype("U8")},
    "one value per example": lambda a: {**a, "x_train": a["x_train"].reshape(len(a["x_train"]), -1)[:, 0]},
    "negative label": lambda a: {**a, "y_train": np.where(a["y_train"] == 0, -1, a["y_train"])},
    "fractional label": lambda a: {**a, "y_train": a["y_train"] + 0.5},
    "label beyond int32": lambda a: {**a, "y_train": np.where(a["y_train"] == 0, 2**40, a["y_train"].astype(np.int64))},
    "a label short": lambda a: {**a, "y_train": a["y_train"][:-1]},
    "one class": lambda a: {**a, "y_train": a["y_train"] * 0},
    "a class missing": lambda a: {**a, "y_train": np.where(a["y_train"] == 0, a["y_train"].max() + 1, a["y_train"])},
    "no labels": lambda a: {"x_train": a["x_train"]},
    "an unknown array": lambda a: {**a, "x_val": a["x_train"]},
    "x_test alone": lambda a: {**a, "x_test": a["x_train"]},
    "x_test of another shape": lambda a: {**a, "x_test": a["x_train"][:, :1], "y_test": a["y_train"]},
    "y_test beyond the classes": lambda a: {**a, "x_test": a["x_train"], "y_test": a["y_train"] + 1},
}


@pytest.mark.parametrize("corruption", [None, *NPZ_CORRUPTIONS])
@settings(max_examples=8)
@given(arrays_=valid_arrays())
def test_valid_npz_files_are_read_and_each_broken_rule_refused(arrays_, corruption):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.npz"
        np.savez(path, **(NPZ_CORRUPTIONS[corruption](arrays_) if corruption else arrays_))
        answer = run_compare(path)
        if corruption is None:
            assert not isinstance(answer, tuple), answer
            assert_usable(answer)
            assert len(answer.x_train) + len(answer.x_test) == len(arrays_["x_train"])
        else:
            assert isinstance(answer, tuple), f"accepted with {corruption}"
            check_answer(path, problem=corruption)


def csv_text(arrays_):
    x = arrays_["x_train"].reshape(len(arrays_["x_train"]), -1)
    header = ["label", *(f"f{i}" for i in range(x.shape[1]))]
    rows = [[str(int(label)), *map(repr, map(float, features))] for label, features in zip(arrays_["y_train"], x)]
    return [header, *rows]


#: One documented rule each breaks, applied to a valid table (a header, then rows).
CSV_CORRUPTIONS = {
    "no label column": lambda t: [["y", *t[0][1:]], *t[1:]],
    "a short row": lambda t: [*t[:-1], t[-1][:-1]],
    "a long row": lambda t: [*t[:-1], [*t[-1], "1"]],
    "a text feature": lambda t: [*t[:-1], [t[-1][0], "x", *t[-1][2:]]],
    "an empty feature": lambda t: [*t[:-1], [t[-1][0], "", *t[-1][2:]]],
    "a NaN feature": lambda t: [*t[:-1], [t[-1][0], "nan", *t[-1][2:]]],
    "no feature column": lambda t: [[row[0]] for row in t],
    "a negative label": lambda t: [*t[:-1], ["-1", *t[-1][1:]]],
    "no example row": lambda t: t[:1],
}


@pytest.mark.parametrize("corruption", [None, *CSV_CORRUPTIONS])
@settings(max_examples=8)
@given(arrays_=valid_arrays())
def test_valid_csv_files_are_read_and_each_broken_rule_refused(arrays_, corruption):
    table = csv_text(arrays_)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.csv"
        path.write_text(
            "\n".join(",".join(row) for row in (CSV_CORRUPTIONS[corruption](table) if corruption else table))
        )
        answer = run_compare(path)
        if corruption is None:
            assert not isinstance(answer, tuple), answer
            assert_usable(answer)
            x = arrays_["x_train"].reshape(len(arrays_["x_train"]), -1)
            got = np.concatenate([answer.x_train, answer.x_test])
            assert sorted(map(tuple, got)) == sorted(map(tuple, x))  # every example, its features exact
        else:
            assert isinstance(answer, tuple), f"accepted with {corruption}"
            check_answer(path, problem=corruption)
