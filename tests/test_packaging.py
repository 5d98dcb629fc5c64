"""The release: `python -m build` makes an sdist and, from it, a wheel that `twine check` accepts; the wheel
installs into a fresh virtual environment, where the console script answers `--help` and a loss computes
what the NumPy reference does.

Nothing comes from the network: the build runs without isolation (this environment's setuptools), and the
fresh environment is made with `--system-site-packages` and gets the wheel by `pip install --no-deps
--no-index` (run by this environment's pip). Its dependencies (Keras, NumPy) come from the running
environment through a `.pth` file naming this environment's site-packages (a virtual environment's
`--system-site-packages` are the base interpreter's, not those of the environment the tests run in, e.g.
`.ci/run`'s): plain path entries, so that the running environment's own `.pth` files (an editable install of
this package) are not processed, and the fresh environment's site-packages, holding the wheel, come first.
"""

import json
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import keras_losses
from tests import reference

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["setup.py", "pyproject.toml", "README.md", "keras_losses", "keras_losses_experiments"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel built from it, from a copy of the sources (no build/ or egg-info here)."""
    work = tmp_path_factory.mktemp("release")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work / "dist"


def test_build_makes_a_wheel_and_an_sdist_of_the_version(dist):
    version = keras_losses.__version__
    assert sorted(path.name for path in dist.iterdir()) == [
        f"keras_losses-{version}-py3-none-any.whl",
        f"keras_losses-{version}.tar.gz",
    ]
    names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
    assert "keras_losses_experiments/cli.py" in names and "keras_losses/version.py" in names
    assert "keras_losses_experiments/comparison/compare.py" in names
    assert not [name for name in names if name.startswith(("tests/", "examples/", "docs/", "benchmarks/"))]


def test_twine_check_passes(dist):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_wheel_installs_and_runs_in_a_fresh_environment(dist, tmp_path):
    environment = tmp_path / "venv"
    venv = [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(environment)]
    subprocess.run(venv, check=True, timeout=120)
    python = environment / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(own_site) / "running_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next(dist.glob("*.whl"))
    # This environment's pip installs into the fresh one (`--python`): no pip to bootstrap there.
    # `--ignore-installed`: a non-editable keras-losses in the running environment (`.ci/run`'s) is seen through
    # the `.pth` file, and pip would otherwise take it for this wheel and install nothing.
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index"]
    install.append("--ignore-installed")
    install.append(str(wheel))
    subprocess.run(install, check=True, timeout=120, capture_output=True)
    # No PYTHONPATH, and a working directory outside the repository: only the installed wheel can be imported.
    env = {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "KERAS_BACKEND": "numpy", "HOME": str(tmp_path)}

    def run(*command):
        return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False)

    help_ = run(str(environment / "bin" / "keras-losses"), "--help")
    assert help_.returncode == 0, help_.stderr
    assert help_.stdout.startswith("usage: keras-losses") and "compare" in help_.stdout
    y, z = [0, 2, 1], [[1.0, -1.0, 0.5], [0.0, 2.0, -0.5], [0.3, 0.2, -2.0]]
    code = (
        "import json, keras_losses, numpy as np\n"
        f"y, z = np.array({y}), np.array({z}, 'float32')\n"
        "values = keras_losses.square_loss(y, z, k=2.0, m=3.0)\n"
        "print(json.dumps({'file': keras_losses.__file__, 'version': keras_losses.__version__,"
        " 'values': np.asarray(values).tolist()}))\n"
    )
    loss = run(str(python), "-c", code)
    assert loss.returncode == 0, loss.stderr
    result = json.loads(loss.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(environment)) and result["version"] == keras_losses.__version__
    expected = reference.square_sparse(np.array(y), np.array(z), k=2.0, m=3.0)
    np.testing.assert_allclose(result["values"], expected, rtol=1e-6)


def test_citation_cff_cites_the_package_and_the_papers():
    import yaml

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["title"].startswith("keras-losses") and citation["authors"] and citation["message"]
    assert "version" not in citation  # the version is written in keras_losses/version.py only
    arxiv = [identifier["value"] for paper in citation["references"] for identifier in paper["identifiers"]]
    assert arxiv == ["arXiv:2006.07322", "arXiv:2110.06537", "arXiv:2302.03952"]
