"""Writes the notebook of each tutorial: `examples/tutorials/<name>.ipynb` from `<name>.py`, without outputs.

The tutorials are written as keras.io's examples are: a Python file whose module docstring holds the Title,
Author, Date created, Last modified, Description and Accelerator lines, and whose `\"\"\"` strings between the code
are the text cells. jupytext reads that layout as its `py:sphinx` format; the header becomes the notebook's
title cell. Edit the `.py` file, then run

    python examples/tutorials/make_notebooks.py          # rewrite the notebooks
    python examples/tutorials/make_notebooks.py --check  # exit 1 if a notebook differs from its .py

(tests/test_tutorials.py runs the check.)
"""

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
HEADER_FIELDS = ("Title", "Author", "Date created", "Last modified", "Description", "Accelerator")


def tutorials():
    """The tutorial sources, in reading order (their file names start with the order)."""
    return sorted(HERE.glob("[0-9]*.py"))


def header(path):
    """The keras.io header of a tutorial as a dict (`Title` ... `Accelerator`)."""
    notebook = jupytext.read(path, fmt="py:sphinx")
    cell = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    fields = dict(line.split(": ", 1) for line in cell.source.splitlines() if ": " in line)
    missing = [name for name in HEADER_FIELDS if name not in fields]
    if missing:
        raise ValueError(f"{path.name}: the header lacks {', '.join(missing)}")
    return fields


def notebook(path):
    """The notebook of the tutorial at `path`: its cells as jupytext reads them, the header as a title cell."""
    source = jupytext.read(path, fmt="py:sphinx")
    cells = [cell for cell in source.cells if cell.source.strip() != "%matplotlib inline"]
    fields = header(path)
    title = f"# {fields['Title']}\n\n" + "<br>\n".join(
        f"**{name}:** {fields[name]}" for name in HEADER_FIELDS if name != "Title"
    )
    cells[0] = nbformat.v4.new_markdown_cell(title)
    result = nbformat.v4.new_notebook(cells=[_clean(cell) for cell in cells])
    result.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if fields["Accelerator"] == "GPU":
        result.metadata["accelerator"] = "GPU"  # Colab asks for a GPU runtime
    return result


def _clean(cell):
    if cell.cell_type == "code":
        return nbformat.v4.new_code_cell(cell.source)
    return nbformat.v4.new_markdown_cell(cell.source)


def text(notebook_):
    """The notebook as written to disk, cell ids left out (nbformat would make them random)."""
    for cell in notebook_.cells:
        cell.pop("id", None)
    notebook_.nbformat, notebook_.nbformat_minor = 4, 4
    return nbformat.writes(notebook_) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook differs from its .py")
    args = parser.parse_args(argv)
    stale = []
    for path in tutorials():
        target, wanted = path.with_suffix(".ipynb"), text(notebook(path))
        if target.exists() and target.read_text(encoding="utf-8") == wanted:
            continue
        stale.append(target.name)
        if not args.check:
            target.write_text(wanted, encoding="utf-8")
    if args.check and stale:
        print(f"out of date (run python {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
