"""`--data` read and checked: every malformed input gives one clear line naming the file and the problem."""

import numpy as np
import pytest

from keras_losses_experiments import cli
from keras_losses_experiments.classification import user_data

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 3)).astype("float32")
Y = np.arange(20) % 2


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def text_file(path, text):
    path.write_text(text)
    return path


def csv_text(rows, header="a,b,label"):
    return header + "\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [f"{i},{i % 3},{i % 2}" for i in range(20)]

MALFORMED = {
    "missing y_train": (lambda p: npz(p / "d.npz", x_train=X), "d.npz: missing y_train"),
    "unexpected key": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y, x_val=X), "unexpected x_val"),
    "x_test without y_test": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y, x_test=X), "x_test without its pair"),
    "non-integer labels": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y + 0.5), "non-integer label 0.5"),
    "string labels": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y.astype(str)), "labels must be integer"),
    "negative label": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y - 1), "negative label -1"),
    "label out of range": (
        lambda p: npz(p / "d.npz", x_train=X, y_train=Y, x_test=X[:4], y_test=np.array([0, 1, 2, 1])),
        "y_test has label 2, but y_train's labels are 0..1",
    ),
    "missing class": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y * 2), "no example of class 1"),
    "mismatched lengths": (lambda p: npz(p / "d.npz", x_train=X, y_train=Y[:15]), "15 labels for 20 examples"),
    "single class": (lambda p: npz(p / "d.npz", x_train=X, y_train=np.zeros(20, int)), "needs two classes"),
    "NaN features": (
        lambda p: npz(p / "d.npz", x_train=np.where(np.arange(20)[:, None] == 7, np.nan, X), y_train=Y),
        "x_train has 3 NaN or infinite values (the first in example 7)",
    ),
    "feature shapes differ": (
        lambda p: npz(p / "d.npz", x_train=X, y_train=Y, x_test=X[:, :2], y_test=Y),
        "x_train has examples of shape (3,), x_test (2,)",
    ),
    "unreadable npz": (lambda p: text_file(p / "d.npz", "not a zip"), "d.npz: cannot read it as a .npz archive"),
    "too few to hold out": (
        lambda p: npz(p / "d.npz", x_train=X[:3], y_train=np.array([0, 1, 1])),
        "cannot hold out 0.2 of the 3 examples with every one of the 2 classes on both sides (the smallest class has 1 "
        "examples) (--test-fraction)",
    ),
    "csv without the label column": (
        lambda p: text_file(p / "d.csv", csv_text(GOOD_ROWS, "a,b,c")),
        "no column 'label'; the columns are: a, b, c (--label-column)",
    ),
    "csv non-numeric feature": (
        lambda p: text_file(p / "d.csv", csv_text(GOOD_ROWS[:4] + ["1,x,0"] + GOOD_ROWS[5:])),
        "d.csv: row 6, column 'b' 'x' is not a number",
    ),
    "csv empty feature": (
        lambda p: text_file(p / "d.csv", csv_text(GOOD_ROWS[:2] + [",1,0"] + GOOD_ROWS[3:])),
        "row 4, column 'a' is empty",
    ),
    "csv NaN feature": (
        lambda p: text_file(p / "d.csv", csv_text(GOOD_ROWS[:2] + ["nan,1,0"] + GOOD_ROWS[3:])),
        "row 4, column 'a' is nan; features must be finite",
    ),
    "csv ragged row": (
        lambda p: text_file(p / "d.csv", csv_text(GOOD_ROWS[:2] + ["1,0"] + GOOD_ROWS[3:])),
        "row 4 has 2 fields, the header 3",
    ),
    "csv non-integer label": (
        lambda p: text_file(p / "d.csv", csv_text([f"{i},1,{i % 2 + 0.5}" for i in range(20)])),
        "column 'label' has the non-integer label 0.5",
    ),
    "csv single class": (
        lambda p: text_file(p / "d.csv", csv_text([f"{i},1,cat" for i in range(20)])),
        "needs two classes",
    ),
    "csv not UTF-8": (
        lambda p: (p / "d.csv").write_bytes(b"a,label\n\xff\xfe,1\n") and p / "d.csv",
        "cannot read it as a UTF-8 .csv file",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_data_is_one_clear_error(case, tmp_path, capsys):
    make, message = MALFORMED[case]
    path = make(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "--data", str(path), "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("keras-losses compare: error: ") and str(path) in error
    assert message in error
    assert not (tmp_path / "out").exists()  # nothing started


def make_folder(root, classes, per_class, suffix=".txt"):
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{i}{suffix}").write_text(f"{name} example {i}")
    return root


FOLDERS = {
    "one class": (lambda p: make_folder(p / "d", ["cat"], 4), "only the class folder 'cat'"),
    "no class folders": (lambda p: (p / "d").mkdir() or p / "d", "no class folders"),
    "an empty class": (
        lambda p: (make_folder(p / "d", ["cat", "dog"], 4) and (p / "d/eel").mkdir()) or p / "d",
        "eel: no images",
    ),
    "images and texts": (
        lambda p: make_folder(p / "d", ["cat", "dog"], 4) and text_file(p / "d/cat/x.png", "") and p / "d",
        "mixes images and .txt files",
    ),
    "a broken image": (
        lambda p: make_folder(p / "d", ["cat", "dog"], 4, ".png") and p / "d",
        "0.png: not a readable image",
    ),
    "test classes differ": (
        lambda p: (
            make_folder(p / "d/train", ["cat", "dog"], 4) and make_folder(p / "d/test", ["cat", "eel"], 2) and p / "d"
        ),
        "they must be the same",
    ),
    "text not UTF-8": (
        lambda p: make_folder(p / "d", ["cat", "dog"], 4) and (p / "d/cat/0.txt").write_bytes(b"\xff\xfe") and p / "d",
        "not a readable UTF-8 text file",
    ),
}


@pytest.mark.parametrize("case", FOLDERS)
def test_malformed_folders_are_one_clear_error(case, tmp_path, capsys):
    make, message = FOLDERS[case]
    path = make(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "--data", str(path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("keras-losses compare: error: ") and message in error


def test_held_out_split_is_stratified_and_seeded(tmp_path):
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    x = np.arange(60, dtype="float32")[:, None]
    first = user_data.read_npz(npz(tmp_path / "d.npz", x_train=x, y_train=labels), test_fraction=0.1)
    again = user_data.read_npz(tmp_path / "d.npz", test_fraction=0.1)
    assert np.bincount(first.y_test).tolist() == [3, 2, 1] and len(first.y_train) == 54
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert set(first.x_train[:, 0]) | set(first.x_test[:, 0]) == set(range(60))  # a partition
    assert first.held_out and first.kind == "vector"


def test_csv_class_names_are_numbered_in_sorted_order(tmp_path):
    path = text_file(
        tmp_path / "d.csv", csv_text([f"{i},{i * 2},{['dog', 'cat', 'eel'][i % 3]}" for i in range(30)], "x,y,animal")
    )
    data = user_data.read_csv(path, "animal", test_fraction=0.2)
    assert data.class_names == ("cat", "dog", "eel")
    # Row i has x = i and the class of i % 3: dog (1), cat (0), eel (2).
    expected = np.array([1, 0, 2])[data.x_train[:, 0].astype(int) % 3]
    np.testing.assert_array_equal(data.y_train, expected)
    np.testing.assert_array_equal(data.x_train[:, 1], data.x_train[:, 0] * 2)


def test_folder_with_train_and_test_keeps_its_split(tmp_path):
    make_folder(tmp_path / "d/train", ["cat", "dog"], 3)
    make_folder(tmp_path / "d/test", ["cat", "dog"], 2)
    folder = user_data.read_folder(tmp_path / "d")
    assert folder.kind == "text" and folder.class_names == ("cat", "dog") and not folder.held_out
    assert folder.train_labels.tolist() == [0, 0, 0, 1, 1, 1] and folder.test_labels.tolist() == [0, 0, 1, 1]
    assert all("/train/" in str(f) for f in folder.train_files)


@pytest.mark.parametrize("held_out", [0.1, 0.25, 0.5, 7])
def test_stratified_split_keeps_the_class_shares(held_out):
    labels = np.repeat([0, 1, 2, 3], [40, 25, 9, 2])
    kept, held = user_data.stratified_split("x", labels, held_out)
    count = held_out if held_out >= 1 else round(held_out * len(labels))
    assert len(held) == max(count, 4) and sorted(np.concatenate([kept, held]).tolist()) == list(range(76))
    shares = np.bincount(labels[held], minlength=4)
    assert (shares >= 1).all() and (np.bincount(labels[kept], minlength=4) >= 1).all()
    # Each class within one example of its proportional share.
    assert (np.abs(shares - np.bincount(labels) * len(held) / 76) < 1 + 1e-9).all()


def test_fingerprint_changes_with_the_data(tmp_path):
    path = npz(tmp_path / "d.npz", x_train=X, y_train=Y)
    before = user_data.fingerprint(path)
    npz(path, x_train=X + 1, y_train=Y)
    assert user_data.fingerprint(path) != before


def test_data_errors_name_the_setting_by_its_field_and_the_command_line_by_its_flag(tmp_path):
    """The data layer knows settings, not flags: `DataError.field`; `keras-losses compare` adds the flag."""
    from keras_losses_experiments import flags
    from keras_losses_experiments.errors import DataError

    npz(tmp_path / "d.npz", x_train=X, y_train=Y, x_test=X, y_test=Y)
    with pytest.raises(DataError) as error:
        user_data.read(tmp_path / "d.npz", test_fraction=0.5)
    assert error.value.field == "test_fraction" and "--" not in str(error.value)
    assert flags.usage(error.value) == f"{error.value} (--test-fraction)"
    with pytest.raises(DataError) as error:
        user_data.read_csv(text_file(tmp_path / "d.csv", csv_text(GOOD_ROWS, "a,b,c")), "label")
    assert error.value.field == "label_column" and "--" not in str(error.value)
