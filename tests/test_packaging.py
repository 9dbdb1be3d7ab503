"""The distribution `minitorch-numpy` builds (wheel + sdist), passes `twine check`, installs into a
fresh virtual environment and runs the Iris demo there with the bundled dataset. Slow (it builds and
installs): `make test-slow` and .ci/run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tools.docblocks import ROOT

pytestmark = pytest.mark.slow
VERSION = "0.1.0"


def run(*args: str | Path, cwd: Path = ROOT, timeout: int = 600) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="the release extra is not installed: pip install -e '.[release]'")
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out)
    return out


def test_wheel_and_sdist_are_named_minitorch_numpy_and_pass_twine_check(dist):
    pytest.importorskip("twine", reason="the release extra is not installed")
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"minitorch_numpy-{VERSION}-py3-none-any.whl", f"minitorch_numpy-{VERSION}.tar.gz"]
    out = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert out.count("PASSED") == 2, out


def test_the_wheel_holds_the_package_and_its_datasets_and_nothing_else(dist):
    wheel = zipfile.ZipFile(dist / f"minitorch_numpy-{VERSION}-py3-none-any.whl")
    files = wheel.namelist()
    assert "minitorch/__init__.py" in files
    assert "minitorch/datasets/data/digits.npz" in files
    assert any(re.fullmatch(r"minitorch/datasets/data/iris\.\w+", f) for f in files), files
    assert {f.split("/")[0] for f in files} == {"minitorch", f"minitorch_numpy-{VERSION}.dist-info"}
    metadata = wheel.read(f"minitorch_numpy-{VERSION}.dist-info/METADATA").decode()
    assert "Name: minitorch-numpy" in metadata and "Requires-Dist: numpy" in metadata
    sdist = tarfile.open(dist / f"minitorch_numpy-{VERSION}.tar.gz")
    members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"README.md", "LICENSE", "pyproject.toml", "minitorch/datasets/data/digits.npz"} <= members


def test_the_wheel_installs_in_a_fresh_venv_and_runs_the_iris_demo(dist, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", dist / f"minitorch_numpy-{VERSION}-py3-none-any.whl")
    where = run(python, "-c", "import minitorch, importlib.metadata as m; "
                "print(minitorch.__file__); print(m.version('minitorch-numpy'))", cwd=tmp_path)
    location, version = where.split()
    assert Path(location).is_relative_to(venv) and version == VERSION
    out = run(python, ROOT / "examples" / "solve_iris.py", cwd=tmp_path)
    accuracy = float(re.search(r"^Test Accuracy \(from loaded model\): (\d+\.\d+)%$", out, re.MULTILINE)[1])
    assert accuracy >= 93.0, out
    assert (tmp_path / "iris_model.npz").is_file()
