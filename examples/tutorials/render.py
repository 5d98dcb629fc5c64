"""Executes each tutorial and writes its page of the docs site with the outputs: `docs/tutorials/<name>.md` and
its figures `docs/tutorials/<name>/figure_<n>.png`.

A page holds the tutorial's text cells, its code, and under each code cell what the cell printed (standard
output), returned or displayed (figures as PNG files, Markdown as Markdown); warnings (standard error) are left
out. The notebook runs in a fresh kernel (nbclient) on a CPU, with the settings of `SETTINGS`, which the page
names; the first line of the page records the SHA-256 of the `.py` source it was rendered from, and
`docs/hooks.py` (the docs build) and tests/test_tutorials.py refuse a page whose source has changed since.
After editing a tutorial, run

    python examples/tutorials/render.py                              # every tutorial, about 2 minutes on 2 cores
    python examples/tutorials/render.py 02_compare_on_cifar10        # one
"""

import argparse
import base64
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import make_notebooks

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "tutorials"

#: name -> (run with KERAS_LOSSES_TUTORIAL_TINY=1?, what the page says about the outputs' settings)
SETTINGS = {
    "01_losses_in_five_minutes": (
        False,
        "the tutorial's own settings (40 epochs on scikit-learn's digits), on a CPU: these are real results.",
    ),
    "02_compare_on_cifar10": (
        True,
        "the **tiny settings** (`KERAS_LOSSES_TUTORIAL_TINY=1`), on a CPU: a three-convolution network trained "
        "for two steps on 16 random images of CIFAR-10's format (`tfds.testing.mock_data`). They show what each "
        "cell prints and draws, not how the losses compare on CIFAR-10: that takes the GPU settings.",
    ),
    "03_translation_with_the_conservative_encouraging_loss": (
        True,
        "the **tiny settings** (`KERAS_LOSSES_TUTORIAL_TINY=1`), on a CPU: a one-layer transformer trained for "
        "one epoch on 16 random sentence pairs of the data set's format (`tfds.testing.mock_data`). They show "
        "what each cell prints and draws; the translations are of random strings and the BLEU is meaningless.",
    ),
}


QUIET = 'import tensorflow\n\ntensorflow.get_logger().setLevel("ERROR")'


def source_hash(path):
    """The SHA-256 of a tutorial's `.py` source, recorded in its page."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stamp(path):
    """The first line of the page of the tutorial at `path`."""
    return f"<!-- rendered by examples/tutorials/render.py from {Path(path).name}, sha256 {source_hash(path)} -->"


def is_current(path, pages=PAGES):
    """Whether the page of the tutorial at `path` exists and was rendered from its present source."""
    page = Path(pages) / f"{Path(path).stem}.md"
    return page.exists() and page.read_text(encoding="utf-8").split("\n", 1)[0] == stamp(path)


def execute(notebook, directory, tiny):
    """Runs `notebook` in place in a fresh kernel whose working directory is `directory`; `tiny` sets
    `KERAS_LOSSES_TUTORIAL_TINY=1`. The kernel imports this repository's `keras_losses`; TensorFlow's Python
    warnings, which its logger prints to standard output, are silenced by a cell run first (then removed)."""
    import nbformat
    from nbclient import NotebookClient

    environment = {
        "KERAS_LOSSES_TUTORIAL_TINY": "1" if tiny else "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # the kernel inherits this process's environment
    try:
        resources = {"metadata": {"path": str(directory)}}  # the kernel's working directory
        notebook.cells.insert(0, nbformat.v4.new_code_cell(QUIET))
        NotebookClient(notebook, timeout=1200, kernel_name="python3", resources=resources).execute()
    finally:
        notebook.cells.pop(0)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def page(path, notebook, settings, pages=PAGES):
    """The Markdown page of the executed `notebook` of the tutorial at `path`; writes its figures under
    `pages/<name>/` (and removes figures of an earlier rendering)."""
    name = Path(path).stem
    figures = Path(pages) / name
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("figure_*.png"):
        old.unlink()
    parts = [stamp(path)]
    count = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        else:
            code = cell.source.strip("\n")  # no blank lines at the ends: ruff formats the pages' code too
            parts.append(f"```python\n{code}\n```")
            for kind, content in _shown_outputs(cell.get("outputs", [])):
                if kind == "png":
                    count += 1
                    (figures / f"figure_{count}.png").write_bytes(content)
                    parts.append(f"![figure {count}]({name}/figure_{count}.png)")
                elif kind == "markdown":
                    parts.append(content)
                else:
                    parts.append(f"```text\n{content.rstrip()}\n```")
        if index == 0:
            parts.append(
                f"Source: `examples/tutorials/{Path(path).name}`; notebook: `examples/tutorials/{name}.ipynb` "
                "(open it in Colab or Kaggle, or run `jupyter notebook` on it)."
            )
            parts.append(f'!!! note "The outputs on this page"\n    Produced by `render.py` with {settings}')
    return "\n\n".join(parts) + "\n"


def _shown_outputs(outputs):
    """(kind, content) of the outputs worth showing: ("text", standard output, consecutive pieces joined, or a
    result's text), ("png", the bytes of a figure) or ("markdown", displayed Markdown)."""
    shown = []
    for output in outputs:
        if output.output_type == "stream" and output.name == "stdout":
            if shown and shown[-1][0] == "stdout":
                shown[-1] = ("stdout", shown[-1][1] + output.text)
            else:
                shown.append(("stdout", output.text))
        elif output.output_type in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "image/png" in data:
                shown.append(("png", base64.b64decode(data["image/png"])))
            elif "text/markdown" in data:
                shown.append(("markdown", data["text/markdown"]))
            elif "text/plain" in data:
                shown.append(("text", data["text/plain"]))
    return shown


def render(path, pages=PAGES):
    """Executes the tutorial at `path` with its `SETTINGS` and writes its page; returns the page's path."""
    tiny, settings = SETTINGS[path.stem]
    with tempfile.TemporaryDirectory() as directory:
        notebook = execute(make_notebooks.notebook(path), directory, tiny)
    target = Path(pages) / f"{path.stem}.md"
    target.write_text(page(path, notebook, settings, pages), encoding="utf-8")
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="tutorials to render (file names without .py); all by default")
    args = parser.parse_args(argv)
    paths = {path.stem: path for path in make_notebooks.tutorials()}
    unknown = [name for name in args.names if name not in paths]
    if unknown:
        parser.error(f"unknown tutorial {', '.join(unknown)}; expected some of: {', '.join(paths)}")
    for name in args.names or paths:
        print(f"wrote {render(paths[name]).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
