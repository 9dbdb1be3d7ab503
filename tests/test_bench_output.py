"""A plain ``bench.py`` run writes its results where git does not track them: the committed
``benchmarks/results.*`` are the run of record, replaced only when ``--json`` names them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def test_the_default_results_path_is_ignored_and_untracked():
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    default = Path(bench.parser().get_default("json"))
    for path in (default, default.with_suffix(".md")):
        relative = str(path.resolve().relative_to(ROOT))
        assert _git("ls-files", "--error-unmatch", relative).returncode != 0, f"{relative} is tracked"
        assert _git("check-ignore", "-q", relative).returncode == 0, f"{relative} is not ignored"


def test_json_still_names_the_run_of_record():
    args = bench.parser().parse_args(["--json", "benchmarks/results.json"])
    assert args.json == "benchmarks/results.json"
