"""`keras-losses compare` end to end on digits, mock CIFAR-10 and a mock translation set, reduced settings."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from keras_losses_experiments import cli


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("compare")
    code = cli.main(
        [
            "compare",
            "--epochs",
            "2",
            "--seeds",
            "2",
            "--losses",
            "ce,square:2,3",
            "--output-dir",
            str(output),
            "--no-progress",
        ]
    )
    return code, output


def test_compare_prints_the_table_and_marks_the_best(digits_run, capsys):
    code, output = digits_run
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    best = results["summary"]["best"]
    assert best in ("ce", "square:2,3")
    accuracies = {row["loss"]: row["accuracy_mean"] for row in results["summary"]["losses"]}
    assert accuracies[best] == max(accuracies.values())


def test_results_json_and_csv_agree(digits_run):
    _, output = digits_run
    results = json.loads((output / "results.json").read_text())
    assert results["config"]["losses"] == ["ce", "square:2,3"]
    assert len(results["runs"]) == 4 and all(len(r["accuracy_per_epoch"]) == 2 for r in results["runs"])
    with open(output / "runs.csv") as handle:
        runs = list(csv.DictReader(handle))
    assert [(r["loss"], int(r["seed"])) for r in runs] == [(r["loss"], r["seed"]) for r in results["runs"]]
    for row in results["summary"]["losses"]:
        mine = [float(r["accuracy"]) for r in runs if r["loss"] == row["loss"]]
        assert row["accuracy_mean"] == pytest.approx(np.mean(mine))
        assert row["accuracy_std"] == pytest.approx(np.std(mine, ddof=1))
        assert 0.0 <= row["ece_mean"] <= 1.0 and row["nll_mean"] > 0 and row["train_seconds_mean"] > 0
    with open(output / "summary.csv") as handle:
        assert [r["loss"] for r in csv.DictReader(handle)] == results["config"]["losses"]


def test_plot_is_a_two_panel_png(digits_run):
    _, output = digits_run
    image = matplotlib.image.imread(output / "comparison.png")
    height, width = image.shape[:2]
    assert width > 1.5 * height > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_compare_on_mock_cifar10_uses_the_tfds_pipeline(tmp_path, capsys):
    code = cli.main(
        [
            "compare",
            "--dataset",
            "cifar10",
            "--model",
            "cnn",
            "--mock-data",
            "16",
            "--image-size",
            "16",
            "--batch-size",
            "8",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--seeds",
            "1",
            "--losses",
            "square,squentropy",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["dataset"] == "cifar10" and len(results["runs"]) == 2
    assert all(0.0 <= r["metrics"]["accuracy"] <= 1.0 for r in results["runs"])
    assert "square" in capsys.readouterr().out


def test_installed_console_script_answers_help():
    if shutil.which("keras-losses") is None:
        pytest.skip("the console script is installed by pip install")
    result = subprocess.run(
        ["keras-losses", "compare", "--help"], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--data PATH" in result.stdout


def test_a_normal_run_is_quiet(tmp_path):
    """No TensorFlow or absl log line on stderr, from a fresh process as a user starts it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    environment["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_losses_experiments.cli",
            "compare",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--losses",
            "squentropy",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
            "--no-plot",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
    assert "squentropy *" in result.stdout and "from one seed" not in result.stdout
    assert (tmp_path / "report.md").exists() and not (tmp_path / "comparison.png").exists()


def test_compare_on_a_mock_translation_set_reports_token_metrics_and_bleu(tmp_path, capsys):
    code = cli.main(
        [
            "compare",
            "--dataset",
            "ted_hrlr_translate/pt_to_en",
            "--model",
            "transformer_tiny",
            "--mock-data",
            "12",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--seeds",
            "1",
            "--losses",
            "encouraging:0.75",
            "--label-smoothing",
            "0.1",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["model"] == "transformer_tiny" and len(results["runs"]) == 1
    assert results["config"]["head"] == "chunked" and "chunked head" in results["config"]["setup"]  # LossHead
    assert json.loads((tmp_path / "comparison.json").read_text())["head"] == "chunked"
    for run in results["runs"]:
        assert 0.0 <= run["metrics"]["bleu"] <= 100.0 and 0.0 <= run["metrics"]["accuracy"] <= 1.0
        assert run["metrics"]["nll"] > 0 and len(run["accuracy_per_epoch"]) == 1
    assert "BLEU" in capsys.readouterr().out and (tmp_path / "comparison.png").exists()
    assert sorted(p.name for p in (tmp_path / "vocabulary").iterdir()) == [
        "source_vocabulary.txt",
        "target_vocabulary.txt",
    ]


@pytest.mark.parametrize(
    "name,inputs,model", [("iris", "vectors of 4 numbers", "mlp"), ("mnist", "images 28x28x1", "cnn")]
)
def test_any_tensorflow_datasets_classification_set(name, inputs, model, tmp_path):
    code = cli.main(
        [
            "compare",
            "--dataset",
            name,
            "--mock-data",
            "20",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--losses",
            "square",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
            "--no-plot",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert f"{name}: {inputs}, " in results["config"]["setup"] and results["config"]["model"] == model
    (run,) = results["runs"]
    assert len(np.load(tmp_path / "runs/square/seed-0/true_class_probabilities.npy")) == 20  # the mock test split
    assert 0 <= run["metrics"]["accuracy"] <= 1 and run["metrics"]["temperature"] > 0
