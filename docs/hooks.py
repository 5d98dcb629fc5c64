"""MkDocs hook: the tutorial pages `docs/tutorials/<name>.md` must be those of the present tutorials.

`python examples/tutorials/render.py` executes each tutorial of examples/tutorials/ (keras.io's format) and
writes its page with the outputs (printed results, tables, figures under `docs/tutorials/<name>/`), stamped with
the SHA-256 of the `.py` source. The build does not execute the tutorials; it fails (a warning, which
`--strict` turns into an error) when a tutorial has no page or has changed since its page was rendered.
"""

import logging
import sys
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parent.parent / "examples" / "tutorials"
log = logging.getLogger("mkdocs.hooks.tutorials")


def on_files(files, config):
    sys.path.insert(0, str(TUTORIALS))
    try:
        import make_notebooks
        import render
    finally:
        sys.path.remove(str(TUTORIALS))
    pages = Path(config["docs_dir"]) / "tutorials"
    for path in make_notebooks.tutorials():
        if not render.is_current(path, pages):
            log.warning(
                f"docs/tutorials/{path.stem}.md is missing or was rendered from an older {path.name}: "
                f"run python examples/tutorials/render.py {path.stem}"
            )
    return files
