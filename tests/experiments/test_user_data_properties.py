"""Property-based tests (Hypothesis) of `keras-losses compare --data`: generated malformed `.csv`, `.npz` files and
class folders either read (and nothing is trained here) or answer with the documented one-line error, exit
status 2, never a traceback. The examples' number is set by the Hypothesis profile (tests/conftest.py)."""

import contextlib
import io
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from keras_losses_experiments import cli
from keras_losses_experiments.classification import user_data
from keras_losses_experiments.comparison import compare


class Accepted(Exception):
    """`compare.prepare` read the data without an error (the test stops there: nothing is trained)."""


def run_compare(path, *flags):
    """`keras-losses compare --data PATH`, up to the reading of the data: None when the data is accepted, else
    (the exit status, stderr)."""
    real_prepare = compare.prepare

    def prepare_only(settings):
        real_prepare(settings)
        raise Accepted

    stderr = io.StringIO()
    with mock.patch.object(compare, "prepare", prepare_only), contextlib.redirect_stderr(stderr):
        try:
            cli.main(["compare", "--data", str(path), "--output-dir", str(path.parent / "out"), *flags])
        except Accepted:
            return None
        except SystemExit as exit_:
            return exit_.code, stderr.getvalue()
    raise AssertionError("cli.main returned without training and without an error")


def check_answer(path, *flags):
    answer = run_compare(path, *flags)
    if answer is None:
        return
    status, stderr = answer
    assert "Traceback" not in stderr, stderr
    assert status == 2, stderr
    line = stderr.strip()
    assert "\n" not in line and line.startswith("keras-losses compare: error: "), stderr
    assert str(path) in line, stderr  # the file or folder (or a file in it) is named
    assert not (path.parent / "out").exists()  # nothing started


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


@given(
    content=st.one_of(csv_texts().map(lambda t: t.encode("utf-8")), st.binary(max_size=64)),
    label_column=st.sampled_from([None, "a", "missing"]),
)
def test_generated_csv_files_read_or_answer_one_line(content, label_column):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.csv"
        path.write_bytes(content)
        check_answer(path, *(["--label-column", label_column] if label_column else []))


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
        else:
            np.savez(path, **arrays_)
            if truncate:  # a cut-off download
                content = path.read_bytes()
                path.write_bytes(content[: len(content) * truncate // 4])
        check_answer(path)


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
