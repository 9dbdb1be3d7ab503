"""The examples run as a user runs them and reach their promised results."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script, *args, cwd):
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                            capture_output=True, text=True, timeout=300, check=True)
    return result.stdout


def test_iris_example_prints_progress_saves_loads_and_reaches_93_percent(tmp_path):
    out = run("solve_iris.py", cwd=tmp_path)
    epochs = re.findall(r"^Epoch (\d+)/200, Loss: (\d+\.\d+)$", out, re.MULTILINE)
    assert [int(e) for e, _ in epochs] == list(range(20, 201, 20))
    assert float(epochs[-1][1]) < float(epochs[0][1])
    assert "Model saved to iris_model.npz" in out
    assert (tmp_path / "iris_model.npz").exists()
    accuracy = float(re.search(r"^Test Accuracy \(from loaded model\): (\d+\.\d+)%$", out, re.MULTILINE)[1])
    assert accuracy >= 93.0


@pytest.mark.slow  # a whole example run: `make test-slow`
def test_iris_example_is_reproducible(tmp_path):
    assert run("solve_iris.py", cwd=tmp_path) == run("solve_iris.py", cwd=tmp_path)


@pytest.mark.slow  # a whole example run: `make test-slow`
def test_xor_example_solves_all_four_cases(tmp_path):
    out = run("solve_xor.py", cwd=tmp_path)
    assert "Correct: 4/4" in out
    assert len(re.findall(r"^\d XOR \d = \d", out, re.MULTILINE)) == 4


@pytest.mark.slow  # a whole example run: `make test-slow`
def test_spirals_example_modern_recipe_reaches_97_percent_where_plain_sgd_fails(tmp_path):
    out = run("solve_spirals.py", cwd=tmp_path)
    plain = float(re.search(r"plain SGD \+ Sigmoid: +(\d+\.\d+)%", out)[1])
    modern = float(re.search(r"BatchNorm \+ Dropout \+ Adam: +(\d+\.\d+)%", out)[1])
    assert modern >= 97.0 and plain < 80.0
    assert len(re.findall(r"^\[BatchNorm\+Dropout\+Adam\] Epoch \d+/60, Loss: ", out, re.MULTILINE)) == 6
