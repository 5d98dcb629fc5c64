"""The command's arguments: usage errors naming the flag, before TensorFlow is needed; help with defaults."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_losses_experiments import cli
from keras_losses_experiments.classification.recipes import RECIPES

ROOT = Path(__file__).parents[2]


def usage_error(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", *arguments])
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    np.savez(
        folder / "d.npz",
        x_train=np.zeros((20, 3)),
        y_train=np.arange(20) % 2,
        x_test=np.zeros((4, 3)),
        y_test=np.arange(4) % 2,
    )
    (folder / "d.csv").write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    for name in ("cat", "dog"):
        (folder / "texts" / name).mkdir(parents=True)
        for i in range(3):
            (folder / "texts" / name / f"{i}.txt").write_text(f"a {name}")
    return folder


@pytest.mark.parametrize(
    "arguments,message",
    [
        (
            ["--model", "resnet50"],
            ("--model: digits: images 8x8x1 are too small for resnet50 (keras.applications needs at least 32x32)"),
        ),
        (["--model", "efficientnet_b0"], "--model: digits: images 8x8x1 are too small for efficientnet_b0"),
        (["--model", "text"], "--model: digits: text takes text inputs, not images 8x8x1; use --model mlp, cnn"),
        (["--model", "transformer_tiny"], "--model: 'transformer_tiny' does not fit 'digits'"),
        (["--dataset", "wmt14_translate/de-en", "--model", "resnet50"], "does not fit 'wmt14_translate/de-en'"),
        (["--label-smoothing", "1.5"], "--label-smoothing: must be in [0, 1). Received: 1.5"),
        (
            ["--image-size", "32"],
            ("--image-size: applies to tensorflow-datasets image sets and image folders only; digits has 8x8 images"),
        ),
        (["--mock-data", "16"], "--mock-data: applies to tensorflow-datasets sets only"),
        (["--label-column", "y"], "--label-column: applies to .csv data only"),
        (["--test-fraction", "0.3"], "--test-fraction: digits has a fixed test split"),
        (["--dataset", "ted_hrlr_translate/pt_to_en", "--validation-fraction", "0.1"], "--validation-fraction:"),
        (["--validation-fraction", "1"], "--validation-fraction: must be in [0, 1)"),
        (["--head", "dense"], "--head: applies to the translator of translation sets only; digits is not one"),
        (["--head", "sparse"], "argument --head: invalid choice: 'sparse'"),
        (["--seeds", "0"], "--seeds: must be at least 1. Received: 0"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--learning-rate", "-1"], "--learning-rate: must be > 0"),
        (["--losses", "focal"], "--losses: bad loss specification 'focal'; accepted: ce, square[:k,m]"),
        (["--losses", "encouraging:2"], "`log_end` must be in (0.0, 1.0]"),
        (["--losses", " , "], "--losses: no loss given"),
        (["--losses", "ce,square,ce"], "--losses: ce given more than once"),
        (["--data", "/no/such/file.npz"], "--data: /no/such/file.npz: no such file or folder"),
        (["--epochs", "two"], "invalid int value: 'two'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_usage_errors_name_the_flag(arguments, message, capsys):
    error = usage_error(arguments, capsys)
    assert error.startswith("keras-losses") and message in error


@pytest.mark.parametrize(
    "arguments,message",
    [
        (
            ["--data", "{d}/d.csv", "--image-size", "32"],
            (
                "--image-size: applies to tensorflow-datasets image sets and "
                "image folders only; {d}/d.csv has no images to resize"
            ),
        ),
        (["--data", "{d}/texts", "--image-size", "32"], "--image-size: {d}/texts has no images to resize (text"),
        (["--data", "{d}/d.npz", "--mock-data", "8"], "--mock-data: applies to tensorflow-datasets sets only"),
        (["--data", "{d}/d.npz", "--label-column", "y"], "--label-column: applies to .csv data only"),
        (["--data", "{d}/d.npz", "--dataset", "digits"], "--data: give --dataset or --data, not both"),
        (
            ["--data", "{d}/d.npz", "--test-fraction", "0.5"],
            ("d.npz: has its own test split (x_test, y_test): no test fraction applies (--test-fraction)"),
        ),
        (
            ["--data", "{d}/d.npz", "--model", "cnn"],
            ("--model: {d}/d.npz: cnn takes image inputs, not vectors of 3 numbers; use --model mlp or auto"),
        ),
        (["--data", "{d}"], "{d}: only the class folder 'texts'; expected one sub-folder of examples per class"),
    ],
)
def test_flags_that_do_not_apply_to_user_data(arguments, message, data_files, capsys):
    arguments = [a.format(d=data_files) for a in arguments]
    error = usage_error(arguments + ["--output-dir", str(data_files / "out")], capsys)
    assert message.format(d=data_files) in error
    assert not (data_files / "out").exists()


def test_a_batch_larger_than_the_mock_data_is_refused(tmp_path, capsys):
    error = usage_error(
        ["--dataset", "cifar10", "--model", "cnn", "--mock-data", "16", "--output-dir", str(tmp_path)], capsys
    )
    # 16 mock examples less 2 for the validation split; CIFAR's recipe batch is 128 and drops the remainder.
    assert "--batch-size: 128 is more than the 14 training examples (--mock-data): no full batch" in error
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "name,message",
    [
        ("no_such_set", "--dataset: Dataset no_such_set not found."),
        ("lm1b", "--dataset: lm1b has no class label"),
        ("speech_commands", "--dataset: speech_commands's input 'audio' is Audio(None,)"),
    ],
)
def test_tensorflow_datasets_sets_are_checked_from_their_info(name, message, tmp_path, capsys):
    assert message in usage_error(["--dataset", name, "--output-dir", str(tmp_path)], capsys)


def test_every_option_says_its_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in (
        "(default: keras-losses-compare)",
        "(default: 3)",
        "(default: auto)",
        "(default: 0.0)",
        "(default: digits)",
        "(default: label)",
        "(default: 0.2)",
        "(default: 0.1,",
    ):
        assert default in text
    recipe = RECIPES["digits"]
    assert f"digits and your data: {recipe.epochs}" in text and f"digits and your data: {recipe.batch_size}" in text
    assert f"Adam {recipe.learning_rate:g}" in text
    help_lines = list(cli.build_parser()._subparsers._group_actions[0].choices["compare"]._actions)
    assert all(action.help for action in help_lines)


def test_the_console_script_answers_without_importing_tensorflow():
    """`keras-losses` (the entry point `keras_losses_experiments.cli:main`) answers --help and usage errors
    without importing TensorFlow, Keras or the losses (several seconds)."""
    code = (
        "import sys\n"
        "from keras_losses_experiments import cli\n"
        "for arguments in (['compare', '--help'], ['compare', '--label-smoothing', '1.5']):\n"
        "    try:\n"
        "        cli.main(arguments)\n"
        "    except SystemExit as exit:\n"
        "        print(exit.code, *(name in sys.modules for name in ('tensorflow', 'keras', 'keras_losses')))\n"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60, env=environment
    )
    assert result.stdout.splitlines()[-2:] == ["0 False False False", "2 False False False"], result.stderr
    assert "--label-smoothing: must be in [0, 1)" in result.stderr
