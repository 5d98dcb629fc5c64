"""`keras-losses compare` end to end on reduced settings, and its error paths."""

import csv
import json
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

from keras_losses import cli


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("compare")
    code = cli.main(
        ["compare", "--epochs", "2", "--seeds", "2", "--losses", "ce,square:2,3,encouraging:0.75",
         "--output-dir", str(output), "--plot", "--no-progress"]
    )
    return code, output


def test_compare_prints_the_table_and_marks_the_best(digits_run, capsys):
    code, output = digits_run
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    best = results["summary"]["best"]
    assert best in ("ce", "square:2,3", "encouraging:0.75")
    accuracies = {row["loss"]: row["accuracy_mean"] for row in results["summary"]["losses"]}
    assert accuracies[best] == max(accuracies.values())


def test_results_json_and_csv_agree(digits_run):
    _, output = digits_run
    results = json.loads((output / "results.json").read_text())
    assert results["config"]["losses"] == ["ce", "square:2,3", "encouraging:0.75"]
    assert len(results["runs"]) == 6 and all(len(r["accuracy_per_epoch"]) == 2 for r in results["runs"])
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
        ["compare", "--dataset", "cifar10", "--model", "cnn", "--mock-data", "16", "--image-size", "16",
         "--batch-size", "8", "--epochs", "1", "--steps-per-epoch", "2", "--seeds", "1",
         "--losses", "square,squentropy", "--output-dir", str(tmp_path), "--no-progress"]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["dataset"] == "cifar10" and len(results["runs"]) == 2
    assert all(0.0 <= r["metrics"]["accuracy"] <= 1.0 for r in results["runs"])
    assert "square" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--losses", "focal"], "bad loss specification 'focal'; accepted: ce, square[:k,m]"),
        (["--losses", "encouraging:2"], "`log_end` must be in (0.0, 1.0]"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--epochs", "two"], "invalid int value: 'two'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_error_paths_exit_2_with_one_line(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", *arguments])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("keras-losses") and message in error


@pytest.mark.skipif(shutil.which("keras-losses") is None, reason="the console script is installed by pip install")
def test_installed_console_script(tmp_path):
    result = subprocess.run(
        ["keras-losses", "compare", "--epochs", "1", "--seeds", "1", "--losses", "squentropy",
         "--output-dir", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "squentropy *" in result.stdout and (tmp_path / "results.json").exists()


def test_note_with_one_seed_does_not_claim_significance():
    from keras_losses.experiments.compare import note

    summary = {"losses": [{"loss": "ce", "seeds": 1}, {"loss": "square", "seeds": 1}], "best": "ce",
               "within_one_std_of_best": []}
    assert "one seed" in note(summary) and "more than one standard deviation" not in note(summary)


def test_compare_on_a_mock_translation_set_reports_token_metrics_and_bleu(tmp_path, capsys):
    code = cli.main(
        ["compare", "--dataset", "ted_hrlr_translate/pt_to_en", "--model", "transformer_tiny", "--mock-data", "12",
         "--batch-size", "4", "--epochs", "1", "--steps-per-epoch", "2", "--seeds", "1",
         "--losses", "ce,encouraging:0.75", "--label-smoothing", "0.1", "--output-dir", str(tmp_path), "--plot",
         "--no-progress"]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["model"] == "transformer_tiny" and len(results["runs"]) == 2
    for run in results["runs"]:
        assert 0.0 <= run["metrics"]["bleu"] <= 100.0 and 0.0 <= run["metrics"]["accuracy"] <= 1.0
        assert run["metrics"]["nll"] > 0 and len(run["accuracy_per_epoch"]) == 1
    assert "bleu" in capsys.readouterr().out and (tmp_path / "comparison.png").exists()


def test_image_model_on_a_translation_set_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--dataset", "wmt14_translate/de-en", "--model", "resnet50"])
    assert "does not fit 'wmt14_translate/de-en'" in capsys.readouterr().err
