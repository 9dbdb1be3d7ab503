"""docs/diagnostics.md: its ```python blocks run top to bottom in one namespace (as Sybil runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_diagnostics_page_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the pictures go to outputs/diagnostics/ under a scratch folder
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    namespace: dict = {}
    with np.errstate(over="ignore", invalid="ignore"):  # the learning rate x 100 problem overflows
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name} block {i + 1}", "exec"), namespace)
    assert (tmp_path / "outputs" / "diagnostics" / "graph.svg").exists()
    if namespace["has_matplotlib"]:
        assert (tmp_path / "outputs" / "diagnostics" / "tanh_x3.png").stat().st_size > 5000
        assert (tmp_path / "outputs" / "diagnostics" / "lr_find.png").stat().st_size > 5000
    for image in re.findall(r"\]\((images/diagnostics/[^)]+)\)", DOC.read_text(encoding="utf-8")):
        assert (DOC.parent / image).exists(), image
