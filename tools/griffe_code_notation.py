"""Griffe extension for the API pages: MiniTorch's docstrings are math in code notation.

A docstring's first paragraph (the summary) is rendered as Markdown; the rest (``Shapes:``,
``Forward:``, ``Backward:``, ``Init:``, ``Example:`` and any prose) is kept exactly as written, in a
monospaced block, so the aligned formulas read as they do next to the code they describe.
"""

from __future__ import annotations

import re
from typing import Any

import griffe


def as_markdown(text: str) -> str:
    text = text.strip("\n")
    summary, _, rest = text.partition("\n\n")
    summary = re.sub(r"``([^`]+)``", r"`\1`", summary)
    if not rest.strip():
        return summary
    fence = "````" if "```" in rest else "```"
    return f"{summary}\n\n{fence}text\n{rest.rstrip()}\n{fence}"


class CodeNotation(griffe.Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None and not getattr(obj.docstring, "_code_notation", False):
            obj.docstring.value = as_markdown(obj.docstring.value)
            obj.docstring._code_notation = True
