"""docs/how-to/export.md's list of the layers that convert to and from torch is the conversion table's."""

from __future__ import annotations

import re
from pathlib import Path

import minitorch as mt

EXPORT_PAGE = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "export.md"


def _listed() -> set[str]:
    """The class names of the paragraph "Every layer both libraries have converts...", "MaxPool1d/2d"
    read as MaxPool1d and MaxPool2d."""
    text = EXPORT_PAGE.read_text()
    start = text.index("Every layer both libraries have converts")
    paragraph = text[start : text.index("Weights, buffers", start)]
    names = set()
    for word in re.findall(r"\b[A-Z][A-Za-z0-9]*(?:/2d)?\b", re.split(r":\s", paragraph, maxsplit=1)[1]):
        names |= {word[:-5] + "1d", word[:-5] + "2d"} if word.endswith("1d/2d") else {word}
    return names


def test_the_export_page_lists_every_layer_the_interop_table_converts():
    table = {cls.__name__ for cls in (*mt.interop.LAYERS, *mt.interop.ATTENTION_LAYERS)}
    table.discard("OutProjection")  # attention's out_proj: converted with its MultiheadAttention
    assert _listed() == table
