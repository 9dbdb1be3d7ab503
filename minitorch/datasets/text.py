"""Texts that ship with the package, for character-level language models.

``shakespeare``: the "tiny shakespeare" corpus (1,115,394 characters, 65 distinct), a concatenation
of works of William Shakespeare (public domain), in the form popularised by the char-rnn project
(karpathy/char-rnn, ``data/tinyshakespeare/input.txt``; MD5 of the text
``6fb458f1232090904fb40fe944165e91``). Stored whole, gzip-compressed, as
``data/tinyshakespeare.txt.gz`` (434 KB).
"""

from __future__ import annotations

import gzip
from importlib import resources

TEXTS = {"shakespeare": "data/tinyshakespeare.txt.gz"}


def load_text(name: str = "shakespeare") -> str:
    """The whole text ``name`` as one string (see ``TEXTS`` for the names).

    Example:
        text = mt.datasets.load_text("shakespeare")    # 1,115,394 characters
        vocab = sorted(set(text))                        # 65 characters
    """
    if name not in TEXTS:
        raise ValueError(f"load_text: unknown text {name!r}; available: {sorted(TEXTS)}")
    data = resources.files("minitorch.datasets").joinpath(TEXTS[name]).read_bytes()
    return gzip.decompress(data).decode("utf-8")
