"""The tutorials of examples/tutorials/ run top to bottom as notebooks (nbclient, one kernel each) on their tiny
settings (`KERAS_LOSSES_TUTORIAL_TINY=1`: scikit-learn's digits, `tfds.testing.mock_data`, a few steps) and
are rendered as their docs pages are (examples/tutorials/render.py: the same execution serves both); their
committed notebooks are the `.py` sources as jupytext reads them, without outputs, and their committed pages
(docs/tutorials/) were rendered from the present sources.

Each notebook runs with a first cell that makes `plt.show()` fail on a figure whose axes lack a label or a
title. tests/conftest.py schedules each test of this module on its own (they share nothing).
"""

import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import scipy.stats

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "examples" / "tutorials"
sys.path.insert(0, str(TUTORIALS))
import make_notebooks  # noqa: E402
import render  # noqa: E402

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
    """The tutorial `name` executed on its tiny settings in a fresh kernel in `tmp_path`, then rendered as its
    docs page is (into `tmp_path / "pages"`); returns (text of every output, number of figures, the page)."""
    path = TUTORIALS / f"{name}.py"
    notebook = make_notebooks.notebook(path)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(CHECK_FIGURES))
    render.execute(notebook, tmp_path, tiny=True)
    notebook.cells.pop(0)
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                texts.append(output.text)
            elif output.output_type in ("display_data", "execute_result"):
                images += "image/png" in output.data
                texts.append(output.data.get("text/markdown", ""))
    page = render.page(path, notebook, "the tiny settings", pages=tmp_path / "pages")
    # The rendering path of the docs site: every figure a PNG file linked from the page, the printed text shown.
    figures = sorted((tmp_path / "pages" / name).glob("figure_*.png"))
    assert len(figures) == images and all(figure.read_bytes()[:4] == b"\x89PNG" for figure in figures)
    assert all(f"]({name}/{figure.name})" in page for figure in figures)
    assert page.startswith(render.stamp(path)) and "```text\n" in page
    return "".join(texts), images, page


def test_losses_in_five_minutes(tmp_path):
    text, images, page = execute("01_losses_in_five_minutes", tmp_path)
    accuracies = dict(re.findall(r"^(\S[^:\n]*): test accuracy (\d\.\d+)$", text, re.MULTILINE))
    names = ["cross-entropy", "square", "encouraging", "conservative encouraging", "squentropy"]
    assert sorted(accuracies) == sorted(names)
    assert all(0.0 <= float(value) <= 1.0 for value in accuracies.values())
    assert "reloaded loss: ConservativeEncouragingLoss(log_end=0.75), same predictions: True" in text
    assert len(re.findall(r"median true-class probability 0\.\d+|1\.0000", text)) == 5
    assert images == 3  # the curves, the per-example losses, the histogram
    assert (tmp_path / "conservative_encouraging.keras").exists()
    assert "reloaded loss: ConservativeEncouragingLoss" in page


def test_compare_on_cifar10(tmp_path):
    text, images, _ = execute("02_compare_on_cifar10", tmp_path)
    names = ["cross-entropy", "square", "conservative encouraging"]
    runs = {
        (name, int(seed)): float(value)
        for seed, name, value in re.findall(r"^seed (\d), ([^:]+): test accuracy (\d\.\d{4})$", text, re.MULTILINE)
    }
    assert sorted(runs) == sorted((name, seed) for name in names for seed in (0, 1))
    for name in names[1:]:
        # The printed verdict against an independent paired t interval of the printed accuracies (4 decimals).
        verdict = re.search(
            rf"^{name} vs cross-entropy, test accuracy: ([+-]\d\.\d{{4}}) \[([+-]\d\.\d{{4}}), ([+-]\d\.\d{{4}})\] "
            r"over 2 seeds: (better|worse|no detectable difference with 2 seeds \(.+\))$",
            text,
            re.MULTILINE,
        )
        assert verdict, text
        differences = np.array([runs[name, seed] - runs["cross-entropy", seed] for seed in (0, 1)])
        half_width = scipy.stats.t.ppf(0.975, 1) * differences.std(ddof=1) / np.sqrt(2)
        expected = [differences.mean(), differences.mean() - half_width, differences.mean() + half_width]
        np.testing.assert_allclose([float(verdict.group(i)) for i in (1, 2, 3)], expected, atol=1e-3)
        low, high = float(verdict.group(2)), float(verdict.group(3))
        assert verdict.group(4).startswith("better" if low > 0 else "worse" if high < 0 else "no detectable")
    for name in names:
        mean = np.mean([runs[name, seed] for seed in (0, 1)])
        assert re.search(rf"^{name}: test accuracy {mean:.4f} ± \d\.\d{{4}} over 2 seeds$", text, re.MULTILINE)
    assert images == 1  # accuracy per epoch and the true-class probabilities


def test_translation_with_the_conservative_encouraging_loss(tmp_path):
    text, images, _ = execute("03_translation_with_the_conservative_encouraging_loss", tmp_path)
    assert "'log_end': 0.5" in text and "'label_smoothing': 0.1" in text and "'ignore_class': 0" in text
    bleu = re.search(r"^BLEU (\d+\.\d\d) on 4 test sentences, 2 beams$", text, re.MULTILINE)
    assert bleu and 0.0 <= float(bleu.group(1)) <= 100.0
    sources = re.findall(r"^source: +(.*)$", text, re.MULTILINE)
    assert len(sources) == 4 and len(re.findall(r"^translation: ", text, re.MULTILINE)) == 4
    assert images == 1  # loss and token accuracy per epoch


@pytest.mark.parametrize("path", make_notebooks.tutorials(), ids=lambda path: path.stem)
def test_each_tutorial_has_the_keras_io_header_and_its_notebook_and_page_are_in_sync(path):
    fields = make_notebooks.header(path)
    assert list(fields) == list(make_notebooks.HEADER_FIELDS)
    assert path.read_text(encoding="utf-8").startswith('"""\nTitle: ')
    committed = path.with_suffix(".ipynb").read_text(encoding="utf-8")
    assert committed == make_notebooks.text(make_notebooks.notebook(path)), (
        "run: python examples/tutorials/make_notebooks.py"
    )
    assert all(not cell.get("outputs") for cell in nbformat.reads(committed, as_version=4).cells)
    assert render.is_current(path), f"run: python examples/tutorials/render.py {path.stem}"
    assert path.stem in render.SETTINGS


def test_the_tutorials_use_public_apis_only():
    for path in make_notebooks.tutorials():
        source = path.read_text(encoding="utf-8")
        assert "keras_losses.experiments" not in source and "keras_losses_experiments" not in source, path.name
        assert not re.search(r"keras_losses\._(?!_version__)|from keras_losses\.\w+ import _", source), path.name
