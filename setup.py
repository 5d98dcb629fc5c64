import re
from pathlib import Path

from setuptools import find_packages, setup

EXPERIMENTS = ["tensorflow>=2.16", "tensorflow-datasets", "tensorboard", "scikit-learn", "matplotlib", "rich"]
TRANSLATION = ["keras-hub", "tensorflow-text", "sacrebleu", "sacremoses"]
# The core tests also run on PyTorch (tests/test_backends.py). torch is pinned: this version installs a CPU wheel
# from the local package cache here; any other version downloads a multi-GB CUDA build. ruff is pinned because its
# rules and its formatting change between releases (tests/test_style.py runs it).
# pytest-xdist runs the suite on two processes (pytest.ini); hypothesis drives the property-based tests.
TEST = ["jax", "torch==2.13.0", "pytest", "pytest-xdist", "hypothesis", "ruff==0.17.6"]
# The documentation site (mkdocs.yml; the API reference from the docstrings). tests/test_docs_site.py builds it.
DOCS = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"]
# The tutorials (examples/tutorials/): their notebooks are written by jupytext and executed by nbclient in the tests.
NOTEBOOKS = ["jupytext>=1.16", "nbclient>=0.10", "ipykernel>=6"]
# The release: tests/test_packaging.py builds the wheel and the sdist and checks them with twine.
RELEASE = ["build>=1.0", "twine>=5", "setuptools>=70"]


def read_version():
    """The version written in keras_losses/version.py, read without importing the package (and so keras)."""
    text = (Path(__file__).parent / "keras_losses" / "version.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE).group(1)


setup(
    name="keras-losses",
    version=read_version(),
    description="Square, encouraging and conservative encouraging losses and squentropy as first-class Keras 3 losses",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(
        include=["keras_losses", "keras_losses.*", "keras_losses_experiments", "keras_losses_experiments.*"]
    ),
    python_requires=">=3.10",
    install_requires=["keras>=3.10", "numpy"],
    extras_require={
        "tensorflow": ["tensorflow>=2.16"],
        "jax": ["jax"],
        "experiments": EXPERIMENTS,
        "translation": EXPERIMENTS + TRANSLATION,
        "docs": DOCS + NOTEBOOKS,
        "test": EXPERIMENTS + TRANSLATION + TEST + DOCS + NOTEBOOKS + RELEASE,
    },
    entry_points={"console_scripts": ["keras-losses=keras_losses_experiments.cli:main"]},
)
