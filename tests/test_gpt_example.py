"""examples/gpt.py in its reduced mode: it trains, prints the held-out line, samples and plots."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gpt.py"


def test_gpt_example_quick_mode(tmp_path):
    png = tmp_path / "att.png"
    result = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--plot", str(png)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    out = result.stdout
    line = re.search(r"^Held-out loss: (\d+\.\d{3}) nats/char \(bigram baseline: (\d+\.\d{3})\)$", out, re.M)
    assert line, out
    held_out, baseline = float(line[1]), float(line[2])
    assert 2.3 < baseline < 2.7  # Shakespeare's character pairs: about 2.48 nats/char
    assert held_out < math.log(65)  # already better than a uniform guess over the 65 characters
    assert out.index("Held-out loss") < out.index("ROMEO:\n")
    sample = out[out.index("ROMEO:\n") + len("ROMEO:\n"):].split("\nAttention weights")[0]
    assert len(sample) == 40
    assert png.read_bytes()[:4] == b"\x89PNG"
