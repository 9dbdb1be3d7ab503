"""The examples' plots and the mt.fit example, run as a user runs them (in a temporary folder)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_MATPLOTLIB = "import runpy, sys; sys.modules['matplotlib'] = None; sys.argv = [sys.argv[1]]; " \
                "runpy.run_path(sys.argv[0], run_name='__main__')"


def run(script, *args, cwd, without_matplotlib=False):
    command = [sys.executable, "-c", NO_MATPLOTLIB] if without_matplotlib else [sys.executable]
    result = subprocess.run([*command, str(EXAMPLES / script), *args], cwd=cwd,
                            capture_output=True, text=True, timeout=300, check=True)
    return result.stdout


def assert_png(path):
    assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 2000


@pytest.mark.slow  # whole example runs: `make test-slow`
def test_fit_example_trains_with_validation_early_stopping_and_reports_the_test_set(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("fit_iris.py", cwd=tmp_path)
    assert "0 (Linear)     (1, 16)             80" in out and "Total params: 131" in out
    epochs = re.findall(r"^Epoch (\d+)/300 - loss: \d\.\d{4} - accuracy: .* - val_f1: \d\.\d{4}$", out, re.M)
    assert epochs[:3] == ["1", "2", "3"] and len(epochs) < 300  # stopped early
    assert re.search(r"^EarlyStopping: restored the weights of epoch \d+ \(val_loss \d\.\d{4}\)$", out, re.M)
    test_line = re.search(r"^Test: loss \d\.\d{4}, accuracy (\d+\.\d+)%, macro F1 \d\.\d{4}$", out, re.M)
    accuracy = float(test_line[1])
    assert accuracy >= 90.0
    assert "Plots saved to outputs/fit_iris_curves.png and outputs/fit_iris_confusion.png" in out
    assert_png(tmp_path / "outputs" / "fit_iris_curves.png")
    assert_png(tmp_path / "outputs" / "fit_iris_confusion.png")


@pytest.mark.slow  # whole example runs: `make test-slow`
def test_explicit_loop_examples_write_their_plots(tmp_path):
    pytest.importorskip("matplotlib")
    iris = run("solve_iris.py", "--epochs", "40", cwd=tmp_path)
    assert iris.splitlines()[-1] == "Loss curve saved to outputs/iris_loss.png"
    assert_png(tmp_path / "outputs" / "iris_loss.png")
    xor = run("solve_xor.py", cwd=tmp_path)
    assert xor.splitlines()[-2:] == [
        "Correct: 4/4", "Decision boundary saved to outputs/xor_decision_boundary.png"
    ]
    assert_png(tmp_path / "outputs" / "xor_decision_boundary.png")


@pytest.mark.slow  # whole example runs: `make test-slow`
def test_without_matplotlib_the_examples_print_what_they_always_printed(tmp_path):
    iris = run("solve_iris.py", cwd=tmp_path, without_matplotlib=True)
    assert iris.splitlines()[-1].startswith("Test Accuracy (from loaded model): ")
    xor = run("solve_xor.py", cwd=tmp_path, without_matplotlib=True)
    assert xor.splitlines()[-1] == "Correct: 4/4"
    fit = run("fit_iris.py", "--epochs", "3", "--verbose", "0", cwd=tmp_path, without_matplotlib=True)
    assert fit.splitlines()[-1] == "For plots: pip install 'minitorch-numpy[plot]'"
    assert not (tmp_path / "outputs").exists()
