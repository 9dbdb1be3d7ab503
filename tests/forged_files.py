"""Hand-made hostile model files (the audit's finds), shared by the safety tests and the memory test.

Each builder writes one file and returns its path; none of them goes through MiniTorch's writer
where the point is to break its rules.
"""

from __future__ import annotations

import functools
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from minitorch.model_files import format as fmt


def count_builds(monkeypatch: Any, cls: type) -> list[int]:
    """A list that grows by one each time ``cls.__init__`` completes (a layer the loader built),
    until ``monkeypatch`` undoes the patch."""
    built: list[int] = []
    real_init = cls.__init__

    @functools.wraps(real_init)  # keeps the signature the loader binds the file's arguments to
    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        built.append(1)

    monkeypatch.setattr(cls, "__init__", counting_init)
    return built


def overlapping_entries(path: Path, members: int = 60, blob: int = 4 << 20) -> Path:
    """A zip whose entries all share one stored blob: entry k's data runs to the end of the file.

    Every entry is a valid uint8 ``.npy`` with a correct CRC, so Python's zipfile reads each of
    them in full: ``members`` entries cost about ``members * blob`` bytes to read.
    """
    tail = bytes(blob)
    headers = []
    for k in reversed(range(members)):
        npy = _npy_header(len(tail))
        data = npy + tail
        name = f"e{k}.npy".encode()
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0,
                            zlib.crc32(data), len(data), len(data), len(name), 0) + name
        headers.append((name, zlib.crc32(data), len(data)))
        tail = local + data
    headers.reverse()
    central, offset = b"", 0
    for name, crc, size in headers:
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, size, size,
                               len(name), 0, 0, 0, 0, 0, offset) + name
        offset += 30 + len(name) + 128  # local header, name, .npy header: then entry k+1 begins
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, members, members, len(central), len(tail), 0)
    path.write_bytes(tail + central + end)
    return path


def _npy_header(length: int) -> bytes:
    """A version 1.0 ``.npy`` header for a uint8 array of ``length`` elements (always 128 bytes)."""
    text = repr({"descr": "|u1", "fortran_order": False, "shape": (length,)})
    text = text + " " * (128 - 10 - 1 - len(text)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def many_big_layers(path: Path, layers: int = 48, width: int = 1024) -> Path:
    """A model file naming ``layers`` Linear(width, width) and holding no arrays at all."""
    linear = {"__module__": {"class": "Linear",
                             "args": {"in_features": width, "out_features": width, "bias": True}}}
    header = {
        "format": "minitorch", "format_version": 1, "library_version": "0.1.0", "kind": "model",
        "model": {
            "architecture": {"class": "Sequential", "args": {"modules": {"__tuple__": [linear] * layers}}},
            "modules": [["", "Sequential"]] + [[str(i), "Linear"] for i in range(layers)],
            "training": True,
        },
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open(f"{fmt.HEADER_KEY}.npy", "w") as member:
            np.lib.format.write_array(member, fmt.header_array(header), allow_pickle=False)
    return path


def dense_header(path: Path, items: int = 1_400_000) -> Path:
    """A header of ``[[],[],...]``: 3 bytes of JSON per empty list, ~75 bytes each once parsed."""
    text = "[" + ",".join(["[]"] * items) + "]"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open(f"{fmt.HEADER_KEY}.npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(text.encode(), np.uint8), allow_pickle=False)
    return path
