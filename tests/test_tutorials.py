"""The tutorials of examples/tutorials/ run top to bottom as notebooks (nbclient, one kernel each) on their tiny
settings (`KERAS_LOSSES_TUTORIAL_TINY=1`: scikit-learn's digits, `tfds.testing.mock_data`, a few steps), and
their committed notebooks are the `.py` sources as jupytext reads them, without outputs.

Each notebook runs with a first cell that makes `plt.show()` fail on a figure whose axes lack a label or a
title. tests/conftest.py schedules each test of this module on its own (they share nothing).
"""

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "examples" / "tutorials"
sys.path.insert(0, str(TUTORIALS))
import make_notebooks  # noqa: E402

CHECK_FIGURES = """\
import matplotlib.pyplot as _plt

_show = _plt.show


def _show_labelled(*args, **kwargs):
    for axes in _plt.gcf().axes:
        assert axes.get_xlabel() and axes.get_ylabel() and axes.get_title(), f"unlabelled plot: {axes}"
    return _show(*args, **kwargs)


_plt.show = _show_labelled
"""


def execute(name, tmp_path):
    """The tutorial `name` executed in a fresh kernel in `tmp_path`; returns (text of every output, images)."""
    from nbclient import NotebookClient

    notebook = make_notebooks.notebook(TUTORIALS / f"{name}.py")
    notebook.cells.insert(0, nbformat.v4.new_code_cell(CHECK_FIGURES))
    environment = {
        "KERAS_LOSSES_TUTORIAL_TINY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                texts.append(output.text)
            elif output.output_type in ("display_data", "execute_result"):
                images += "image/png" in output.data
                texts.append(output.data.get("text/markdown", ""))
    return "".join(texts), images


def test_losses_in_five_minutes(tmp_path):
    text, images = execute("01_losses_in_five_minutes", tmp_path)
    accuracies = dict(re.findall(r"^(\S[^:\n]*): test accuracy (\d\.\d+)$", text, re.MULTILINE))
    names = ["cross-entropy", "square", "encouraging", "conservative encouraging", "squentropy"]
    assert sorted(accuracies) == sorted(names)
    assert all(0.0 <= float(value) <= 1.0 for value in accuracies.values())
    assert "reloaded loss: ConservativeEncouragingLoss(log_end=0.75), same predictions: True" in text
    assert len(re.findall(r"median true-class probability 0\.\d+|1\.0000", text)) == 5
    assert images == 3  # the curves, the per-example losses, the histogram
    assert (tmp_path / "conservative_encouraging.keras").exists()


def test_compare_on_cifar10(tmp_path):
    text, images = execute("02_compare_on_cifar10", tmp_path)
    assert re.search(r"^square vs ce, accuracy: [+-]\d\.\d{4} .* over 2 seeds: ", text, re.MULTILINE)
    assert re.search(r"^encouraging:0\.75 vs ce, accuracy: [+-]\d\.\d{4} .* over 2 seeds: ", text, re.MULTILINE)
    assert re.search(r"^best mean test accuracy: (ce|square|encouraging:0\.75)$", text, re.MULTILINE)
    assert "## Against ce" in text  # the report, rendered
    assert images == 1  # comparison.png
    results = json.loads((tmp_path / "compare-cifar10-tiny" / "results.json").read_text())
    assert results["config"]["losses"] == ["ce", "square", "encouraging:0.75"] and len(results["runs"]) == 6
    assert results["config"]["strategy"] == "default"  # what `auto` picks on this machine's CPU


def test_translation_with_the_conservative_encouraging_loss(tmp_path):
    text, images = execute("03_translation_with_the_conservative_encouraging_loss", tmp_path)
    assert "'log_end': 0.5" in text and "'label_smoothing': 0.1" in text and "'ignore_class': 0" in text
    bleu = re.search(r"^BLEU (\d+\.\d\d) on 4 test sentences, 2 beams$", text, re.MULTILINE)
    assert bleu and 0.0 <= float(bleu.group(1)) <= 100.0
    assert len(re.findall(r"^translation: ", text, re.MULTILINE)) == 4
    assert images == 1  # loss and token accuracy per epoch


@pytest.mark.parametrize("path", make_notebooks.tutorials(), ids=lambda path: path.stem)
def test_each_tutorial_has_the_keras_io_header_and_its_notebook_is_in_sync(path):
    fields = make_notebooks.header(path)
    assert list(fields) == list(make_notebooks.HEADER_FIELDS)
    assert path.read_text(encoding="utf-8").startswith('"""\nTitle: ')
    committed = path.with_suffix(".ipynb").read_text(encoding="utf-8")
    assert committed == make_notebooks.text(make_notebooks.notebook(path)), (
        "run: python examples/tutorials/make_notebooks.py"
    )
    assert all(not cell.get("outputs") for cell in nbformat.reads(committed, as_version=4).cells)
