"""load_text: the shipped Shakespeare corpus, whole and unchanged."""

from __future__ import annotations

import hashlib

import pytest

import minitorch as mt


def test_shakespeare_is_the_tiny_shakespeare_corpus():
    text = mt.datasets.load_text("shakespeare")
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert hashlib.md5(text.encode()).hexdigest() == "6fb458f1232090904fb40fe944165e91"
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_unknown_text_names_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown text 'hamlet'; available: \['shakespeare'\]"):
        mt.datasets.load_text("hamlet")
