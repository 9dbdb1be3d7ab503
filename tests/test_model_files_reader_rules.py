"""The reader's stated rules, at their boundaries: the header density limit as the docs state it
(one list or object per 5 bytes past the first 64 KiB, a key counting as two) and an entry's data
read exactly (a cut or changed byte refused by zipfile's own checks)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from model_helpers import read_header

import minitorch as mt
from minitorch.model_files import format as fmt

DOC = Path(__file__).resolve().parent.parent / "docs" / "concepts" / "model-files.md"


def _units(text: bytes) -> int:
    return text.count(b"[") + text.count(b"{") + 2 * text.count(b":")


def _header_bytes(path) -> bytes:
    with np.load(path, allow_pickle=False) as archive:
        return archive[fmt.HEADER_KEY].tobytes()


def test_the_stated_limit_is_the_charged_one():
    assert fmt.JSON_BYTES_PER_CONTAINER == 5 and fmt.DENSITY_ALLOWANCE == 65536
    text = " ".join(DOC.read_text().split())
    assert "one JSON list or object per 5 bytes past its first 64 KiB" in text
    assert re.search(r"\(`\[` \+ `\{` \+ 2 `:`\) x 5 > its bytes \+ 65536", text)
    # "[" * u + " " * s: 5u > (u + s) + 65536 is refused, 5u == (u + s) + 65536 is not
    for units, spaces, refused in [(16384, 0, False), (16385, 0, True), (16385, 4, False),
                                   (16385, 3, True), (10**5, 4 * 10**5 - 65536, False)]:
        text = b"[" * units + b" " * spaces
        if refused:
            with pytest.raises(mt.ModelFileError, match="past the first 65536"):
                fmt.check_density(text, mt.ModelFileError)
        else:
            fmt.check_density(text, mt.ModelFileError)


def test_a_checkpoint_at_the_density_limit_is_written_and_read_and_one_byte_less_is_refused(tmp_path):
    dense = [[] for _ in range(40_000)]  # a unit per 3 bytes: the padding string decides
    path = tmp_path / "c.npz"
    mt.save_checkpoint(path, dense=dense, pad="x" * 20_000)
    text = _header_bytes(path)
    pad = 20_000 - (len(text) - (5 * _units(text) - fmt.DENSITY_ALLOWANCE))  # len == 5 units - 64 Ki
    mt.save_checkpoint(path, dense=dense, pad="x" * pad)
    text = _header_bytes(path)
    assert 5 * _units(text) == len(text) + fmt.DENSITY_ALLOWANCE  # exactly at the limit: allowed
    assert mt.load_checkpoint(path)["pad"] == "x" * pad
    with pytest.raises(TypeError, match="implausibly dense"):
        mt.save_checkpoint(tmp_path / "d.npz", dense=dense, pad="x" * (pad - 1))
    header = read_header(path)
    header["metadata"]["pad"] = "x" * (pad - 1)
    forged = json.dumps(header, separators=(",", ":")).encode()
    assert 5 * _units(forged) == len(forged) + fmt.DENSITY_ALLOWANCE + 1
    fmt.atomic_write_npz(tmp_path / "forged.npz", {fmt.HEADER_KEY: np.frombuffer(forged, np.uint8)})
    with pytest.raises(mt.ModelFileError, match="implausibly dense"):
        mt.load_checkpoint(tmp_path / "forged.npz")


def test_honest_headers_are_under_the_limit_at_any_size(tmp_path):
    relus = mt.Sequential(*[mt.ReLU() for _ in range(5000)])  # MiniTorch's densest header
    mt.save_model(relus, tmp_path / "m.npz")
    text = _header_bytes(tmp_path / "m.npz")
    assert len(text) > 4 * fmt.DENSITY_ALLOWANCE and len(text) / _units(text) > 5.5


@pytest.mark.parametrize("where", ["cut", "changed"])
def test_an_entry_whose_data_is_cut_or_changed_is_refused(tmp_path, where):
    mt.save_model(mt.Linear(4, 3), tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    with np.load(tmp_path / "m.npz") as archive:
        last = archive["W"].tobytes()[-4:]  # the end of an entry's data, before the next entry
    at = bytes(data).index(last) + 3
    if where == "cut":
        del data[at]
    else:
        data[at] ^= 0x40
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    for call in (mt.load_model, lambda p: mt.load_model(mt.Linear(4, 3), p)):
        with pytest.raises(mt.ModelFileError):
            call(tmp_path / "bad.npz")
