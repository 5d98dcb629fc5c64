"""MkDocs hook: the tutorials of examples/tutorials/ as pages, converted by jupytext when the site is built.

Each `examples/tutorials/<name>.py` (keras.io's format) becomes `tutorials/<name>.md`: its text cells as
Markdown, its code as Python blocks, without outputs (the figures appear when the notebook runs). Nothing is
generated into the repository.
"""

import sys
from pathlib import Path

from mkdocs.structure.files import File

TUTORIALS = Path(__file__).resolve().parent.parent / "examples" / "tutorials"


def on_files(files, config):
    sys.path.insert(0, str(TUTORIALS))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(TUTORIALS))
    for path in make_notebooks.tutorials():
        files.append(File.generated(config, f"tutorials/{path.stem}.md", content=page(make_notebooks, path)))
    return files


def page(make_notebooks, path):
    notebook = make_notebooks.notebook(path)
    parts = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        else:
            parts.append(f"```python\n{cell.source}\n```")
        if index == 0:
            parts.append(
                f"Source: `examples/tutorials/{path.name}`; notebook: `examples/tutorials/{path.stem}.ipynb` "
                "(open it in Colab or Kaggle, or run `jupyter notebook` on it)."
            )
    return "\n\n".join(parts) + "\n"
