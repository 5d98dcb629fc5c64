"""`keras-losses compare --data` end to end on tiny data made here: .npz, .csv, an image folder, a text folder
(2 losses x 2 seeds x 1 epoch each), adding seeds to a finished comparison, and refusing changed settings."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from keras_losses_experiments import cli

LOSSES = ["--losses", "ce,square", "--seeds", "2", "--epochs", "1", "--no-progress"]


def compare(data, output, *extra):
    assert cli.main(["compare", "--data", str(data), "--output-dir", str(output), *LOSSES, *extra]) == 0
    return json.loads((output / "results.json").read_text())


def check_outputs(output, results, test_examples):
    """Four runs, CSV files that agree with results.json, verdicts paired by seed, a report with its plot."""
    runs = {(r["loss"], r["seed"]): r["metrics"] for r in results["runs"]}
    assert sorted(runs) == [("ce", 0), ("ce", 1), ("square", 0), ("square", 1)]
    for loss, seed in runs:
        probabilities = np.load(output / "runs" / loss / f"seed-{seed}" / "true_class_probabilities.npy")
        assert probabilities.shape == (test_examples,) and ((probabilities >= 0) & (probabilities <= 1)).all()
    with open(output / "verdicts.csv") as handle:
        verdicts = {row["metric"]: row for row in csv.DictReader(handle) if row["loss"] == "square"}
    for metric in ("accuracy", "nll", "ece", "calibrated_nll", "calibrated_ece"):
        paired = [runs["square", s][metric] - runs["ce", s][metric] for s in (0, 1)]
        assert float(verdicts[metric]["mean"]) == pytest.approx(np.mean(paired))
        assert float(verdicts[metric]["low"]) <= np.mean(paired) <= float(verdicts[metric]["high"])
    report = (output / "report.md").read_text()
    assert "![comparison](comparison.png)" in report and (output / "comparison.png").stat().st_size > 10_000
    assert "- square vs ce, accuracy: " in report
    for row in results["summary"]["losses"]:
        assert f"| {row['loss']}" in report and f"{row['accuracy_mean']:.4f}±{row['accuracy_std']:.4f}" in report


@pytest.fixture(scope="module")
def npz_data(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, 6)).astype("float32") + y[:, None]
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    np.savez(path, x_train=x, y_train=y)
    return path


@pytest.fixture(scope="module")
def npz_run(npz_data, tmp_path_factory):
    output = tmp_path_factory.mktemp("npz-run")
    return output, compare(npz_data, output)


def test_npz_without_a_test_split(npz_run, capsys):
    output, results = npz_run
    check_outputs(output, results, test_examples=8)  # 20% of 40, stratified
    assert results["config"]["model"] == "mlp"
    assert "vectors of 6 numbers, 2 classes, 29 train, 3 validation, 8 test" in results["config"]["setup"]
    assert "model mlp (auto: vector inputs)" in results["config"]["setup"]


def test_more_seeds_reuse_the_finished_runs(npz_data, npz_run, tmp_path, capsys):
    import shutil

    output = tmp_path / "out"
    shutil.copytree(npz_run[0], output)
    before = {p: p.read_bytes() for p in (output / "runs").rglob("*") if p.is_file()}
    results = compare(npz_data, output, "--seeds", "3", "--losses", "ce")
    assert "3 runs (1 loss x 3 seeds): 2 already in" in capsys.readouterr().out
    assert len(results["runs"]) == 3 and all(p.read_bytes() == content for p, content in before.items())
    epochs = (output / "runs/ce/seed-2/epochs.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in epochs] == [0]


def test_changed_settings_are_refused_unless_overwrite(npz_data, npz_run, tmp_path, capsys):
    import shutil

    output = tmp_path / "out"
    shutil.copytree(npz_run[0], output)
    with pytest.raises(SystemExit) as exit_info:
        compare(npz_data, output, "--label-smoothing", "0.1")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"--output-dir: {output} holds a comparison with other settings: label_smoothing 0.1 (there: 0.0)" in error
    assert "--overwrite" in error
    results = compare(
        npz_data, output, "--label-smoothing", "0.1", "--overwrite", "--losses", "ce,squentropy", "--seeds", "1"
    )
    assert sorted((r["loss"], r["seed"]) for r in results["runs"]) == [("ce", 0), ("squentropy", 0)]
    assert not (output / "runs" / "square").exists()  # the old comparison's runs are gone


def test_csv_with_class_names(tmp_path):
    rng = np.random.default_rng(1)
    rows = ["x1,kind,x2"] + [
        f"{rng.normal() + i % 2:.4f},{['bird', 'fish'][i % 2]},{rng.normal():.4f}" for i in range(40)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    results = compare(tmp_path / "data.csv", tmp_path / "out", "--label-column", "kind", "--test-fraction", "0.25")
    check_outputs(tmp_path / "out", results, test_examples=10)
    assert "vectors of 2 numbers, 2 classes" in results["config"]["setup"]


def test_image_folder(tmp_path):
    rng = np.random.default_rng(2)
    for label, name in enumerate(["dark", "light"]):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 128, (6, 6, 3)) + 127 * label
            Image.fromarray(pixels.astype("uint8")).save(tmp_path / "images" / name / f"{i}.png")
    results = compare(tmp_path / "images", tmp_path / "out", "--image-size", "8")
    check_outputs(tmp_path / "out", results, test_examples=4)
    assert "images 8x8x3, 2 classes" in results["config"]["setup"] and results["config"]["model"] == "cnn"


def test_text_folder_with_train_and_test(tmp_path):
    words = {"sport": "goal match team score win", "food": "bread soup cheese apple salt"}
    for split, count in (("train", 12), ("test", 3)):
        for name, vocabulary in words.items():
            (tmp_path / "texts" / split / name).mkdir(parents=True)
            for i in range(count):
                (tmp_path / "texts" / split / name / f"{i}.txt").write_text(" ".join(vocabulary.split()[i % 5 :]))
    results = compare(tmp_path / "texts", tmp_path / "out")
    check_outputs(tmp_path / "out", results, test_examples=6)
    assert "texts of 200 tokens, 2 classes, 22 train, 2 validation, 6 test" in results["config"]["setup"]
    assert results["config"]["model"] == "text"
