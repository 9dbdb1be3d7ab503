"""Import time and peak memory, each measured in fresh Python processes (nothing imported before)."""

from __future__ import annotations

import statistics
import subprocess
import sys

IMPORT = """
import time
start = time.perf_counter()
import {module}
print(time.perf_counter() - start)
"""

# Peak resident memory in KiB: VmHWM from /proc (Linux), else ru_maxrss. On Linux, ru_maxrss of a
# child started by fork + exec starts from the parent's peak (hundreds of MB here, with torch loaded),
# while VmHWM belongs to the new process image alone.
PEAK = """
def peak_kib():
    try:
        with open("/proc/self/status") as status:
            return float(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    except (OSError, StopIteration):
        import resource
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

# 200 steps of the 784-512-256-10 MLP at batch 128 on 2,048 random samples; prints the peak (KiB).
TRAIN_MINITORCH = PEAK + """
import numpy as np
import minitorch as mt
mt.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((2048, 784), dtype=np.float32)
y = rng.integers(0, 10, 2048)
model = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(), mt.Linear(256, 10))
loss_fn = mt.CrossEntropyLoss()
opt = mt.SGD(model.parameters(), lr=0.01)
for i in range(200):
    s = (i * 128) % 2048
    loss = loss_fn(model(X[s:s + 128]), y[s:s + 128])
    model.backward_params(loss_fn.backward())
    opt.step()
    opt.zero_grad()
print(peak_kib())
"""

TRAIN_TORCH = PEAK + """
import torch
torch.set_num_threads(2)
torch.manual_seed(0)
X = torch.randn(2048, 784)
y = torch.randint(0, 10, (2048,))
model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                            torch.nn.ReLU(), torch.nn.Linear(256, 10))
loss_fn = torch.nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(200):
    s = (i * 128) % 2048
    opt.zero_grad()
    loss = loss_fn(model(X[s:s + 128]), y[s:s + 128])
    loss.backward()
    opt.step()
    loss.item()
print(peak_kib())
"""


def _run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"fresh process failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int, with_torch: bool) -> dict:
    """Medians over ``runs`` fresh processes each, interleaved: import seconds, peak RSS in MB."""
    jobs = {"import_minitorch_s": IMPORT.format(module="minitorch"),
            "import_numpy_s": IMPORT.format(module="numpy"),
            "peak_rss_minitorch_mb": TRAIN_MINITORCH}
    if with_torch:
        jobs["import_torch_s"] = IMPORT.format(module="torch")
        jobs["peak_rss_torch_mb"] = TRAIN_TORCH
    values: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, code in jobs.items():
            value = _run(code)
            values[name].append(value / 1024 if name.startswith("peak_rss") else value)
    return {name: statistics.median(v) for name, v in values.items()} | {"runs": runs}
