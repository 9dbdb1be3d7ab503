"""examples/char_rnn.py runs as a user runs it (reduced sizes) and ends with its promised line."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "char_rnn.py"


def test_char_rnn_reduced_run_learns_and_prints_the_last_line(tmp_path):
    args = ["--steps", "60", "--hidden", "32", "--embedding", "8", "--seq-len", "32", "--batch-size", "16",
            "--text-chars", "60000", "--print-every", "30", "--sample-length", "40", "--lr", "0.01"]
    out = subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    lines = out.strip().splitlines()
    last = re.fullmatch(r"Held-out loss: (\d+\.\d{3}) nats/char \(bigram baseline: (\d+\.\d{3})\)", lines[-1])
    assert last, lines[-1]
    held, bigram = float(last[1]), float(last[2])
    assert 2.0 < bigram < 3.0
    assert held < math.log(65) - 0.8  # far below the uniform guess after 60 small steps
    steps = re.findall(r"^step +(\d+)  train (\d+\.\d+)  held-out (\d+\.\d+) nats/char", out, re.MULTILINE)
    assert [int(s) for s, _, _ in steps] == [30, 60]
    assert float(steps[1][1]) < float(steps[0][1])
    assert "--- sample (temperature 0.8) ---\nROMEO:\n" in out


def test_char_rnn_model_hand_written_backward_passes_gradcheck():
    """The lesson of the example, its model's backward, agrees with central differences."""
    import importlib.util

    import numpy as np

    import minitorch as mt

    spec = importlib.util.spec_from_file_location("char_rnn", EXAMPLE)
    char_rnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(char_rnn)
    mt.set_default_dtype(np.float64)
    model = char_rnn.CharLSTM(vocab_size=5, embedding_dim=3, hidden_size=4, num_layers=2)
    ids = np.random.default_rng(0).integers(0, 5, (3, 2))
    assert mt.gradcheck(model, ids)  # upstream for logits and the returned (h_n, c_n)
    state = tuple(np.random.default_rng(1).standard_normal((2, 2, 4)) for _ in range(2))
    assert mt.gradcheck(model, ids, state)  # the carried state: a constant input, its gradient dropped
