"""Model-file promises that mutation testing found unpinned, one test per hole (helper mutants9).

Each test names the mutant it kills: the atomic writer's order of flush, fsync, rename and folder
fsync; its sweep of stale temporary files next to a save in progress; the reader's exact limits
(overlapping entries, entries running past the data, the header's JSON density); and what a forged
header may not smuggle in.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from forged_files import count_builds
from model_helpers import read_header, weights, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt


# ------------------------------------------------------------------------------ the writer
def _recorded_save(tmp_path, monkeypatch, save):
    """``save(path)``, recording each fsync (with what the file descriptor holds on disk) and rename."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync-folder" if stat.S_ISDIR(info.st_mode) else "fsync-file", info.st_size))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.stat(src).st_size))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save(tmp_path / "m.npz")
    monkeypatch.undo()
    return events, (tmp_path / "m.npz").stat().st_size


@pytest.mark.parametrize("save", [
    lambda path: mt.save_model(mt.Sequential(mt.Linear(30, 20)), path),
    lambda path: fmt.atomic_write(path, lambda file: file.write(b"x" * 100)),  # nothing else flushes
], ids=["save_model", "atomic_write"])
def test_the_whole_file_is_on_disk_before_the_rename_and_the_rename_is_synced(tmp_path, monkeypatch, save):
    # mutants: no tmp.flush() before the fsync (W02: the fsync syncs a part of the file; zipfile
    # flushes its own archive, a plain atomic_write does not); no fsync of the folder after the
    # rename (W05: the rename itself may be lost on a crash)
    events, size = _recorded_save(tmp_path, monkeypatch, save)
    assert events == [("fsync-file", size), ("replace", size), ("fsync-folder", events[-1][1])]


@pytest.fixture
def umask_000():
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_a_new_file_gets_0o666_under_an_empty_umask(tmp_path, umask_000):
    # mutant W07: 0o644 minus the umask (equal to 0o666 minus the usual 0o022 or 0o027)
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), tmp_path / "m.npz")
    assert stat.S_IMODE((tmp_path / "m.npz").stat().st_mode) == 0o666


def test_a_save_in_progress_in_another_thread_is_not_swept(tmp_path):
    # mutants W11, W13: the sweep forgets the saves under way in this process (same pid as the
    # sweeper), or they are never listed
    path = tmp_path / "m.npz"
    started, release, errors = threading.Event(), threading.Event(), []

    def slow_write(file):
        file.write(b"first")
        started.set()
        release.wait(30)

    def first_save():
        try:
            fmt.atomic_write(path, slow_write)
        except BaseException as err:  # reported below: a thread's exception would be lost
            errors.append(err)

    thread = threading.Thread(target=first_save)
    thread.start()
    assert started.wait(30)
    fmt.atomic_write(path, lambda file: file.write(b"second"))  # sweeps the folder first
    release.set()
    thread.join(30)
    assert errors == []
    assert path.read_bytes() == b"first"  # the first save finished last
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_finished_and_failed_saves_are_no_longer_listed_in_progress(tmp_path):
    # mutant W14: a finished save's temporary name stays in the in-progress list for ever
    def full_disk(file):
        raise OSError("disk full")

    fmt.atomic_write(tmp_path / "a.bin", lambda file: file.write(b"x"))
    with pytest.raises(OSError, match="disk full"):
        fmt.atomic_write(tmp_path / "b.bin", full_disk)
    assert fmt._in_progress == set()


def test_a_non_numeric_array_is_refused_before_the_file_is_made(tmp_path):
    # mutant W18: write_npz has allow_pickle=False, which refuses object arrays but writes strings,
    # so without the check a save succeeds and makes a file every load refuses
    for array in (np.array(["a", "b"]), np.array([1 + 2j]), np.array([b"x"])):
        with pytest.raises(TypeError, match="'x': expected a numeric array"):
            fmt.atomic_write_npz(tmp_path / "m.npz", {"x": array})
    assert list(tmp_path.iterdir()) == []


def test_the_bytes_of_a_saved_array_do_not_depend_on_its_layout(tmp_path):
    # mutant W19: the array written in its own memory order (a transposed weight as Fortran order)
    array = np.arange(12.0).reshape(3, 4)
    fmt.atomic_write_npz(tmp_path / "c.npz", {"a": array})
    fmt.atomic_write_npz(tmp_path / "f.npz", {"a": np.asfortranarray(array)})
    assert (tmp_path / "c.npz").read_bytes() == (tmp_path / "f.npz").read_bytes()


# ------------------------------------------------------------------------------ the reader
def _npy(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def _archive(path, members, grow=None):
    """A stored zip of ``members`` (name -> bytes), then entry ``grow``'s declared sizes (local
    header and central directory) made one byte larger than what it stores."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    if grow is not None:
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            local, central = archive.getinfo(grow).header_offset, archive.start_dir
        while raw[central + 46:central + 46 + len(grow)] != grow.encode():  # the next directory record
            central += 46 + sum(struct.unpack_from("<3H", raw, central + 28))
        for at in (local + 18, local + 22, central + 20, central + 24):  # compressed, uncompressed
            struct.pack_into("<L", raw, at, struct.unpack_from("<L", raw, at)[0] + 1)
        path.write_bytes(bytes(raw))
    return path


def _no_reads(monkeypatch):
    reads = []
    real = fmt._read_member
    monkeypatch.setattr(fmt, "_read_member", lambda *a: reads.append(a[1]) or real(*a))
    return reads


def test_entries_overlapping_by_one_byte_are_refused_before_reading(tmp_path, monkeypatch):
    # mutant R13: `start < end - 1` lets two entries share one byte
    members = {"a.npy": _npy(np.zeros(3)), "b.npy": _npy(np.ones(2))}
    reads = _no_reads(monkeypatch)
    with pytest.raises(mt.ModelFileError, match=r"entries 'a\.npy' and 'b\.npy' overlap"):
        fmt.read_npz(_archive(tmp_path / "m.npz", members, grow="a.npy"))
    assert reads == []
    assert set(fmt.read_npz(_archive(tmp_path / "ok.npz", members))) == {"a", "b"}  # touching is fine


def test_an_entry_running_one_byte_into_the_directory_is_refused_before_reading(tmp_path, monkeypatch):
    # mutant R16: `> directory_start + 1` lets the last entry end inside the central directory
    members = {"a.npy": _npy(np.zeros(3)), "b.npy": _npy(np.ones(2))}
    reads = _no_reads(monkeypatch)
    with pytest.raises(mt.ModelFileError, match=r"entry 'b\.npy' runs past the end of the stored data"):
        fmt.read_npz(_archive(tmp_path / "m.npz", members, grow="b.npy"))
    assert reads == []


def test_an_entry_with_an_empty_name_is_refused(tmp_path):
    # mutant R02: an entry called just ".npy" read as the array named ""
    with pytest.raises(mt.ModelFileError, match=r"unexpected entry '\.npy'"):
        fmt.read_npz(_archive(tmp_path / "m.npz", {".npy": _npy(np.zeros(2))}))


def test_arrays_read_from_any_npz_are_writable_native_and_in_their_own_order(tmp_path):
    # mutants: R42 read-only arrays (a view of the bytes read); R43 the .npy's fortran_order ignored
    # (np.savez writes a Fortran-ordered array so); R44 a big-endian array kept big-endian
    matrix = np.arange(12.0).reshape(3, 4)
    np.savez(tmp_path / "m.npz", f=np.asfortranarray(matrix), b=matrix.astype(">i4"), c=matrix)
    arrays = fmt.read_npz(tmp_path / "m.npz")
    for name in "fbc":
        np.testing.assert_array_equal(arrays[name], matrix)
        assert arrays[name].flags.writeable and arrays[name].dtype.isnative
    assert arrays["b"].dtype == np.int32


def _npy_declaring(descr, shape, data):
    """A version 1.0 .npy whose header says ``descr`` and ``shape`` (whatever ``data`` holds)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape})
    text += " " * (127 - 10 - len(text)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + data


@pytest.mark.parametrize("descr, message", [
    ("<c16", "got dtype complex128"),  # mutants R32, R34: complex (or anything) past the kind check
    ("<U2", "got dtype <U2"),
    (("<f8", [("a", "<i4"), ("b", "<i4")]), "got dtype"),  # R35: a float64 with fields (kind 'f')
])
def test_entries_of_non_numeric_dtypes_are_refused(tmp_path, descr, message):
    members = {"a.npy": _npy_declaring(descr, (2,), bytes(32))}
    with pytest.raises(mt.ModelFileError, match=f"entry 'a': expected a numeric array, {message}"):
        fmt.read_npz(_archive(tmp_path / "m.npz", members))


def test_bool_arrays_make_the_round_trip(tmp_path):
    # mutant R33: the reader refuses the bool arrays the writer writes (a mask in a checkpoint)
    mask = np.array([True, False, True])
    mt.save_checkpoint(tmp_path / "c.npz", mask=mask, flag=np.bool_(True))
    loaded = mt.load_checkpoint(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded["mask"], mask)
    assert loaded["mask"].dtype == bool and loaded["flag"] is np.True_


@pytest.mark.parametrize("shape, data, message", [
    ((-2, -3), bytes(48), r"has a negative dimension in shape \(-2, -3\)"),  # R36: failed at the reshape
    ((10**12,), bytes(8), r"declares \(1000000000000,\) float64 \(8000000000000 bytes\), but holds 8 "),
    # R38 above
    ((17,), b"", r"declares \(17,\) float64 \(136 bytes\), but holds 0 bytes"),  # R46: +64 took it
    ((10,), bytes(8), r"declares \(10,\) float64 \(80 bytes\), but holds 8 bytes"),  # less than its header
    ((3,), bytes(16), r"declares \(3,\) float64 \(24 bytes\), but holds 16 bytes"),  # R41: the reshape
    ((2,), bytes(17), r"declares \(2,\) float64 \(16 bytes\), but holds 17 bytes"),  # R40: 17th ignored
], ids=["negative", "huge", "just-over", "within-the-header-size", "truncated", "trailing"])
def test_an_entry_whose_shape_disagrees_with_its_bytes_is_refused_naming_it(tmp_path, shape, data, message):
    members = {"a.npy": _npy_declaring("<f8", shape, data)}
    with pytest.raises(mt.ModelFileError, match=f"entry 'a' {message}"):
        fmt.read_npz(_archive(tmp_path / "m.npz", members))


def test_a_version_2_npy_entry_is_read_and_version_3_refused(tmp_path):
    # mutant R30: .npy version 2.0 (numpy's format for headers over 64 KiB) refused
    members = {"a.npy": _npy(np.arange(3.0), version=(2, 0))}
    np.testing.assert_array_equal(fmt.read_npz(_archive(tmp_path / "m.npz", members))["a"], np.arange(3.0))
    members = {"a.npy": _npy(np.arange(3.0), version=(3, 0))}
    with pytest.raises(mt.ModelFileError, match=r"unsupported \.npy version \(3, 0\)"):
        fmt.read_npz(_archive(tmp_path / "m3.npz", members))


# ------------------------------------------------------------------------------ the header
_HEAD = '{"format":"minitorch","format_version":1,"library_version":"0.1.0"'  # without its "}"


def _header(text):
    return {fmt.HEADER_KEY: np.frombuffer(text.encode(), np.uint8)}


def test_header_json_exactly_at_the_density_limit_is_read_and_one_byte_less_is_refused():
    # mutants H03-H08: the limit is one list or object per 5 bytes beyond 2**16 (`>`), counting
    # both lists and objects, and a key as two
    lists = 33_000
    body = _HEAD + ',"x":[' + ",".join(["[]"] * lists) + "]"
    containers = lists + 2  # the header object and "x"
    keys = body.count(":")
    limit = (containers + 2 * keys) * fmt.JSON_BYTES_PER_CONTAINER - 2**16  # the fewest bytes for these
    assert fmt.JSON_BYTES_PER_CONTAINER == 5 and limit > len(body) + 1
    header = fmt.read_header(_header(body + " " * (limit - len(body) - 1) + "}"))
    assert len(header["x"]) == lists
    with pytest.raises(mt.ModelFileError, match=f"implausibly dense JSON \\({containers} lists and objects"):
        fmt.read_header(_header(body + " " * (limit - len(body) - 2) + "}"))


@pytest.mark.parametrize("version, shown", [("true", "True"), ("1.0", "1.0"), ('"1"', "'1'")])
def test_a_format_version_that_only_equals_1_is_refused(version, shown):
    # mutants H13, H14: True == 1.0 == 1 in Python, so `version in (1,)` alone takes True and 1.0
    with pytest.raises(mt.ModelFileError, match=f"unsupported format_version {shown}:"):
        fmt.read_header(_header(_HEAD.replace('"format_version":1', '"format_version":' + version) + "}"))


def test_a_header_that_is_not_one_dimensional_is_refused():
    # mutant H02: a 2-D uint8 header read as its bytes
    raw = np.frombuffer((_HEAD + "}").encode(), np.uint8)
    with pytest.raises(mt.ModelFileError, match=r"the header must be a 1-D uint8 array, got uint8 \(1, "):
        fmt.read_header({fmt.HEADER_KEY: raw[None, :]})


@pytest.mark.parametrize("library", ["", ',"library_version":1', ',"library_version":null'])
def test_a_header_without_a_library_version_string_is_refused(library):
    # mutant H15: library_version not checked
    with pytest.raises(mt.ModelFileError, match="library_version: expected str"):
        fmt.read_header(_header('{"format":"minitorch","format_version":1' + library + "}"))


# forging archives byte by byte: a local header (+ name), a directory record, the end record
def _local(name, size, crc, method=0, extra=0, declared=None):
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, size,
                       size if declared is None else declared, len(name), extra) + name.encode()


def _record(name, offset, size, crc, method=0, declared=None):
    declared = size if declared is None else declared
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, size, declared,
                       len(name), 0, 0, 0, 0, 0, offset) + name.encode()


def _end(records, directory_start):
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(records), len(records),
                       sum(map(len, records)), directory_start, 0)


def _forged(path, data, records):
    path.write_bytes(data + b"".join(records) + _end(records, len(data)))
    return path


def test_a_compressed_entry_is_refused_even_when_it_declares_its_stored_size(tmp_path):
    # mutant R04: without the compression check, sizes that agree let a deflated entry through
    npy = _npy(np.frombuffer(np.random.default_rng(0).bytes(2000) + bytes(1000), np.uint8))
    for zeros in range(len(npy)):  # a deflated prefix saving exactly the stored block's 5 bytes
        squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = squeeze.compress(npy[:2000 + zeros]) + squeeze.flush(zlib.Z_FULL_FLUSH)
        if len(head) == 2000 + zeros - 5:
            break
    tail = npy[2000 + zeros:]
    stream = head + b"\x01" + struct.pack("<2H", len(tail), len(tail) ^ 0xFFFF) + tail  # final, stored
    assert len(stream) == len(npy) and zlib.decompress(stream, -15) == npy
    crc = zlib.crc32(npy)
    path = _forged(tmp_path / "m.npz", _local("a.npy", len(npy), crc, method=8) + stream,
                   [_record("a.npy", 0, len(npy), crc, method=8)])
    with pytest.raises(mt.ModelFileError, match="entry 'a' is compressed; expected stored arrays"):
        fmt.read_npz(path)


def test_an_entry_storing_more_than_it_declares_is_refused(tmp_path):
    # mutant R05: a stored entry read as its declared size, the bytes beyond it ignored
    npy = _npy(np.arange(3.0))
    crc = zlib.crc32(npy)
    path = _forged(tmp_path / "m.npz", _local("a.npy", len(npy) + 1, crc, declared=len(npy)) + npy + b"!",
                   [_record("a.npy", 0, len(npy) + 1, crc, declared=len(npy))])
    message = rf"entry 'a\.npy' declares {len(npy)} bytes, stores {len(npy) + 1}"
    with pytest.raises(mt.ModelFileError, match=message):
        fmt.read_npz(path)


def test_an_offset_that_is_no_local_header_is_refused_before_reading(tmp_path, monkeypatch):
    # mutants R06, R07: an offset into plain bytes (here an unlisted entry's zeros) passes the layout
    # check; zipfile refuses it only when it opens that entry, after reading the ones before
    zeros, npy = _npy(np.zeros(200)), _npy(np.arange(3.0))
    data = _local("z.npy", len(zeros), zlib.crc32(zeros)) + zeros
    records = [_record("c.npy", len(data), len(npy), zlib.crc32(npy)),
               _record("b.npy", 100, len(npy), zlib.crc32(npy))]  # in the middle of z's zeros
    path = _forged(tmp_path / "m.npz", data + _local("c.npy", len(npy), zlib.crc32(npy)) + npy, records)
    reads = _no_reads(monkeypatch)
    with pytest.raises(mt.ModelFileError, match=r"entry 'b\.npy' has no local header at its offset"):
        fmt.read_npz(path)
    assert reads == []


def test_an_entry_whose_extra_field_covers_another_entry_overlaps_it(tmp_path, monkeypatch):
    # mutant R08: the local header's extra field not counted, so entry a (whose data lies past an
    # extra field holding all of b's header and b's data) seems to end before b begins
    inner = _npy(np.arange(3.0))
    outer = _npy(np.frombuffer(inner, np.uint8))  # b's array holds a's .npy bytes: one blob, two entries
    pad = bytes(len(inner))  # room for the span a seems to have
    b_at = 30 + len("a.npy") + len(pad)
    extra = pad + _local("b.npy", len(outer), zlib.crc32(outer)) + outer[:len(outer) - len(inner)]
    data = _local("a.npy", len(inner), zlib.crc32(inner), extra=len(extra)) + extra + inner
    records = [_record("a.npy", 0, len(inner), zlib.crc32(inner)),
               _record("b.npy", b_at, len(outer), zlib.crc32(outer))]
    path = _forged(tmp_path / "m.npz", data, records)
    reads = _no_reads(monkeypatch)
    with pytest.raises(mt.ModelFileError, match=r"entries 'a\.npy' and 'b\.npy' overlap"):
        fmt.read_npz(path)
    assert reads == []


def test_a_directory_listing_entries_out_of_file_order_is_read(tmp_path):
    # mutant R14: spans compared in directory order, so b's span (later in the file) seems to overlap a's
    a, b = _npy(np.arange(3.0)), _npy(np.ones((2, 2), np.float32))
    data = _local("a.npy", len(a), zlib.crc32(a)) + a
    records = [_record("b.npy", len(data), len(b), zlib.crc32(b)), _record("a.npy", 0, len(a), zlib.crc32(a))]
    data += _local("b.npy", len(b), zlib.crc32(b)) + b
    arrays = fmt.read_npz(_forged(tmp_path / "m.npz", data, records))
    np.testing.assert_array_equal(arrays["a"], np.arange(3.0))
    np.testing.assert_array_equal(arrays["b"], np.ones((2, 2), np.float32))


def test_entries_past_the_zip64_limit_are_written_and_read(tmp_path, monkeypatch):
    # mutant W21: no force_zip64, so an array over zipfile's 2 GiB limit fails mid-save (the limit is
    # lowered here: zipfile reads it when each entry is closed)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
    model = mt.Sequential(mt.Linear(30, 20))
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded[0].W.data, model[0].W.data)


def test_stale_temporary_files_of_a_name_with_glob_characters_are_swept(tmp_path):
    # mutant W23: the name not escaped, so ".m[1].npz.*.tmp" matches ".m1.npz.<pid>.x.tmp", not its own
    stale = tmp_path / f".m[1].npz.{2**22 + 1}.abc.tmp"  # above Linux's largest pid: no such process
    other = tmp_path / f".m1.npz.{2**22 + 1}.abc.tmp"  # another file's: its own save sweeps it
    stale.write_bytes(b"half a model")
    other.write_bytes(b"half a model")
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), tmp_path / "m[1].npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "m[1].npz"]


_FORKED_SWEEP = textwrap.dedent("""
    import os, sys, threading, time, warnings
    from pathlib import Path
    from minitorch.model_files import format as fmt
    folder = Path(sys.argv[1])
    started = threading.Event()

    def slow(file):
        file.write(b"the parent's half save")
        started.set()
        time.sleep(60)

    threading.Thread(target=fmt.atomic_write, args=(folder / "m.npz", slow), daemon=True).start()
    started.wait(30)
    parent = os.getpid()
    warnings.simplefilter("ignore")  # forking a process with a thread
    if os.fork():
        os._exit(0)  # the parent dies mid-save: its temporary file stays
    os.close(1)  # (the test's pipe: it then ends with the parent)
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    fmt.atomic_write(folder / "m.npz", lambda file: file.write(b"the child's save"))
    (folder.parent / "listing").write_text(" ".join(sorted(p.name for p in folder.iterdir())))
    os.replace(folder.parent / "listing", folder.parent / "done")
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_sweeps_what_its_dead_parent_left_mid_save(tmp_path):
    # mutant W16: the child keeps its parent's saves in progress listed, so never sweeps them
    (tmp_path / "saves").mkdir()
    subprocess.run([sys.executable, "-c", _FORKED_SWEEP, str(tmp_path / "saves")], check=True, timeout=60)
    deadline = time.monotonic() + 60
    while not (tmp_path / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "done").read_text() == "m.npz"
    assert (tmp_path / "saves" / "m.npz").read_bytes() == b"the child's save"


# ------------------------------------------------------------------ what a header may hold
def _nested(depth, wrap):
    value = 1
    for _ in range(depth):
        value = wrap(value)
    return value


def _forged_metadata(tmp_path, value):
    """A checkpoint (a model, one metadata array: 'history') whose metadata 'x' is the JSON ``value``."""
    path = tmp_path / "c.npz"
    mt.save_checkpoint(path, model=mt.Sequential(mt.Linear(2, 2)), history=np.arange(3.0))
    header = read_header(path)
    if "metadata/0" in json.dumps(value):  # 'x' refers to the array instead of 'history'
        header["metadata"] = {"x": value}
    else:
        header["metadata"]["x"] = value
    write_with_header(path, header, weights(path))
    return path


@pytest.mark.parametrize("value, message", [
    ({"__float__": "1.5"}, r"metadata\.x: expected 'nan', 'inf' or '-inf', got '1\.5'"),  # C05
    ({"__dtype__": []}, r"metadata\.x: expected a dtype name among .*, got \[\]"),  # C06: unhashable
    ({"__dtype__": "object"}, "expected a dtype name among"),  # C07: object arrays unpickle
    ({"__tuple__": [1], "__float__": "nan"}, r"unexpected JSON object with keys \['__float__', "),  # C03/4
    ({"__module__": {"class": "ReLU", "args": {}}}, "a module is not expected here"),  # C08
    ({"__dict__": [["a", 1, 2]]}, r"expected \[key, value\] pairs, got \['a', 1, 2\]"),  # C09
    ({"__dict__": [["a", 1], ["a", 2]]}, "key 'a' appears twice"),  # C10
    ({"__dict__": [[1.5, 1]]}, "metadata.x key: expected str or int, got float 1.5"),  # C21
    ({"__dict__": [[[1], 1]]}, r"metadata.x key: expected str or int, got list \[1\]"),  # C21: unhashable
    ({"__array__": "model/0.W"}, "refers to a missing array entry 'model/0.W'"),  # C11: another section's
    ([{"__array__": "metadata/0"}, {"__array__": "metadata/0"}], "entry 'metadata/0' is referred to twice"),
    ({"__scalar__": "metadata/0"}, r"scalar entry 'metadata/0' has shape \(3,\)"),  # C13
    (_nested(65, lambda v: [v]), "nested deeper than 64 levels"),  # C01 (64 below), C02, C14
    (_nested(65, lambda v: {"__dict__": [["k", v]]}), "nested deeper than 64 levels"),  # C15
    (_nested(33, lambda v: {"__tuple__": [v]}), "nested deeper than 64 levels"),  # C22: a tuple and its list
], ids=["float", "dtype-list", "dtype-object", "two-tags", "module", "triple", "twice", "float-key",
        "list-key", "other-prefix", "array-twice", "scalar-shape", "deep-list", "deep-dict", "deep-tuple"])
def test_forged_metadata_is_refused_naming_what_is_wrong(tmp_path, value, message):
    # mutants C01-C22 of the codec's Decoder: each let its forgery through (or escape as a TypeError)
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_checkpoint(_forged_metadata(tmp_path, value))


@pytest.mark.parametrize("wrap, levels", [
    (lambda v: [v], 64), (lambda v: {"__dict__": [["k", v]]}, 64), (lambda v: {"__tuple__": [v]}, 32),
], ids=["list", "dict", "tuple"])
def test_metadata_nested_64_levels_deep_is_read(tmp_path, wrap, levels):
    # mutant C01: `depth >= MAX_DEPTH` refuses the deepest nesting allowed (a tuple is two levels)
    value = mt.load_checkpoint(_forged_metadata(tmp_path, _nested(levels, wrap)))["x"]
    for _ in range(levels):
        value = value["k"] if isinstance(value, dict) else value[0]
    assert value == 1


# ------------------------------------------------------------------------ checkpoints
def _trained(seed=0):
    mt.manual_seed(seed)
    model = mt.Sequential(mt.Linear(3, 2))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.backward(np.ones((4, 2), np.float32) + 0 * model(np.ones((4, 3), np.float32)))
    opt.step()
    return model, opt


def _forged_checkpoint(tmp_path, edit):
    path = tmp_path / "c.npz"
    model, opt = _trained()
    mt.save_checkpoint(path, model=model, optimizer=opt, epoch=3)
    header, arrays = read_header(path), weights(path)
    edit(header, arrays)
    write_with_header(path, header, arrays)
    return path


def _optimizer_state(header):
    """The decoded-form optimizer state dict's pairs: {"state": ..., "param_groups": ...}."""
    return dict(header["optimizer"]["state"]["__dict__"])


@pytest.mark.parametrize("edit, message", [
    (lambda h, a: a.update({"scheduler/0": np.zeros(2)}), "holds no scheduler state"),  # K05
    (lambda h, a: h["metadata"].update(epoch=4), r"metadata uses reserved names \['epoch'\]"),  # K08
    (lambda h, a: h.update(model=None), "holds no model"),  # K11: its weights in the file
    (lambda h, a: _optimizer_state(h)["param_groups"][0]["__dict__"][-1][1].append("x"),  # K15
     r"optimizer\.state\.param_groups\[\]\.params\[\]: expected int, got str 'x'"),
    (lambda h, a: _optimizer_state(h)["state"]["__dict__"][0].__setitem__(0, "w"),  # K16
     "optimizer.state.state key: expected int, got str 'w'"),
    (lambda h, a: h.update(extra=1), r"header: missing keys \[\], unknown keys \['extra'\]"),  # K18
    (lambda h, a: h.update(epoch=True), "epoch: expected int or null, got bool True"),  # H16
], ids=["scheduler-entries", "reserved-metadata", "weights-without-model", "group-index", "state-key",
        "header-key", "epoch-bool"])
def test_forged_checkpoints_are_refused_and_change_nothing(tmp_path, edit, message):
    path = _forged_checkpoint(tmp_path, edit)
    model, opt = _trained(seed=1)
    before, opt_before = model.state_dict(), copy.deepcopy(opt.state_dict())
    rng_before = mt.random.generator().bit_generator.state
    for call in (lambda: mt.load_checkpoint(path), lambda: mt.load_checkpoint(path, model, opt)):
        with pytest.raises(mt.ModelFileError, match=message):
            call()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert _same(opt.state_dict(), opt_before) and mt.random.generator().bit_generator.state == rng_before


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return bool(np.array_equal(a, b))


# ------------------------------------------------------------------ the rebuild's budget
def _linear_file(tmp_path, name="m.npz", **args):
    """A file of Sequential(Linear(64, 64)) (4160 elements) whose Linear's arguments say ``args``."""
    path = tmp_path / name
    mt.save_model(mt.Sequential(mt.Linear(64, 64)), path)
    header = read_header(path)
    header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]["args"].update(args)
    write_with_header(path, header, weights(path))
    return path


def test_a_layer_past_the_rebuild_budget_is_refused_before_it_is_built(tmp_path, monkeypatch):
    # mutants B01 (40x), B02 (2**20 to spare), B03 (no estimate), B07 (only the largest argument):
    # each lets Linear(64, 2000) (128000 elements; the budget is 4 * 4160 + 2**16 = 82176) be built
    forged, honest = _linear_file(tmp_path, "forged.npz", out_features=2000), _linear_file(tmp_path)
    built = count_builds(monkeypatch, mt.Linear)
    with pytest.raises(mt.ModelFileError, match=r"sizes implausibly large .* holds enough for 82176\)"):
        mt.load_model(forged)
    assert built == []
    assert mt.load_model(honest)[0].W.shape == (64, 64)


def test_a_batchnorm_sized_past_the_budget_allocates_nothing(tmp_path):
    # mutant B03: BatchNorm1d draws no random numbers, so without the estimate its four 8 MB arrays
    # exist before the count of what it holds refuses it
    path = _linear_file(tmp_path)
    header = read_header(path)
    header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"] = {
        "class": "BatchNorm1d", "args": {"num_features": 2_000_000}}
    write_with_header(path, header, weights(path))
    tracemalloc.start()
    try:
        with pytest.raises(mt.ModelFileError, match="sizes implausibly large"):
            mt.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak >> 20} MiB"


def test_a_file_naming_a_function_of_minitorch_is_refused(tmp_path):
    # mutant B17: names looked up beyond Module subclasses: the file would call mt.manual_seed(7)
    path = _linear_file(tmp_path)
    header = read_header(path)
    header["model"]["architecture"] = {"class": "manual_seed", "args": {"seed": 7}}
    write_with_header(path, header, weights(path))
    state = mt.random.generator().bit_generator.state
    with pytest.raises(mt.ModelFileError, match="unknown module class 'manual_seed'"):
        mt.load_model(path)
    assert mt.random.generator().bit_generator.state == state


# ------------------------------------------------------------------------ the encoder
def test_what_a_header_can_hold_makes_the_round_trip_and_the_rest_is_refused_at_save(tmp_path):
    # mutants C19 (a non-finite float written raw: json refuses NaN), C18 (a bool dict key stored as
    # the int 1), C17 (a non-numeric array in metadata named by its entry, not its key), C16 (a dtype
    # outside the numeric ones stored by name, refused only when the file is read)
    values = {"inf": math.inf, "nan": [math.nan], "ints": {1: -math.inf},
              "dtypes": (np.float32, np.dtype("int8"))}
    mt.save_checkpoint(tmp_path / "c.npz", **values)
    loaded = mt.load_checkpoint(tmp_path / "c.npz")
    assert loaded["inf"] == math.inf and math.isnan(loaded["nan"][0]) and loaded["ints"] == {1: -math.inf}
    assert loaded["dtypes"] == (np.float32, np.int8)
    for value, message in [
        ({True: 1}, "dict keys must be str or int, got bool True"),
        (np.array(["a"]), "save_checkpoint: metadata 'x': expected a numeric array, got dtype <U1"),
        (np.complex128, "cannot store a type in a model file"),
        (np.dtype("datetime64[s]"), "cannot store a DateTime64DType in a model file"),
    ]:
        with pytest.raises(TypeError, match=re.escape(message)):
            mt.save_checkpoint(tmp_path / "bad.npz", x=value)
    assert not (tmp_path / "bad.npz").exists()


# ------------------------------------------------------------------------ model files
def test_a_model_file_with_a_checkpoint_entry_is_refused_before_reading(tmp_path, monkeypatch):
    # mutant M01: load_model(path) (no model to compare names with) reads an 'optimizer/0' entry, to
    # refuse it only when the state is loaded
    path = tmp_path / "m.npz"
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), path)
    write_with_header(path, read_header(path), {**weights(path), "optimizer/0": np.zeros(10**5, np.uint8)})
    reads = _no_reads(monkeypatch)
    with pytest.raises(mt.ModelFileError, match=r"unexpected entries \['optimizer/0'\]"):
        mt.load_model(path)
    assert reads == []


def test_state_a_file_cannot_hold_is_refused_at_save(tmp_path):
    # mutants M16 (a buffer named as the header entry: it would overwrite the header), M17 (one buffer
    # under two names: a file holds two arrays, which a load cannot make one again)
    clash = mt.Module()
    clash.register_buffer(fmt.HEADER_KEY, np.zeros(2))
    with pytest.raises(ValueError, match="a state entry may not be called '__minitorch__'"):
        mt.save_model(clash, tmp_path / "m.npz")
    shared = mt.Sequential(mt.BatchNorm1d(2), mt.BatchNorm1d(2))
    shared[1].running_mean = shared[0].running_mean
    with pytest.raises(TypeError, match=r"buffers '0\.running_mean' and '1\.running_mean' are one array"):
        mt.save_model(shared, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


class _Trusting:
    """An optimizer of PyTorch's layout whose load_state_dict takes any state without a check (or
    raises ``refuse``)."""

    def __init__(self, params, refuse=None):
        self.params, self.refuse = list(params), refuse
        self.loaded = None

    def state_dict(self):
        return {"state": {}, "param_groups": [{"lr": 0.1, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state):
        if self.refuse is not None:
            raise self.refuse
        self.loaded = state


def test_an_optimizer_with_other_parameter_groups_is_refused_even_if_it_would_take_the_state(tmp_path):
    # mutant K09: the sizes of the groups not compared, so an optimizer that does not check gets them
    model = mt.Sequential(mt.Linear(2, 2))
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=_Trusting(model.parameters()))
    other = _Trusting([model[0].W])
    with pytest.raises(mt.ModelFileError, match=r"parameter groups differ: sizes \[2\] in the file, \[1\]"):
        mt.load_checkpoint(tmp_path / "c.npz", model, other)
    assert other.loaded is None


@pytest.mark.parametrize("edit", [
    lambda rng: rng.pop("state"),  # numpy raises KeyError
    lambda rng: rng["state"].update(state="x"),  # TypeError
    lambda rng: rng["state"].update(state=2**200),  # OverflowError
], ids=["missing", "str", "huge"])
def test_a_forged_generator_state_is_refused_whatever_numpy_raises(tmp_path, edit):
    # mutant K10: only numpy's ValueError turned into ModelFileError
    path = tmp_path / "c.npz"
    mt.save_checkpoint(path, epoch=1)
    header = read_header(path)
    rng = dict(header["rng"]["__dict__"])
    rng["state"] = dict(rng["state"]["__dict__"])
    edit(rng)
    if "state" in rng:
        rng["state"] = {"__dict__": [[k, v] for k, v in rng["state"].items()]}
    header["rng"] = {"__dict__": [[k, v] for k, v in rng.items()]}
    write_with_header(path, header, weights(path))
    before = mt.random.generator().bit_generator.state
    with pytest.raises(mt.ModelFileError, match="rng: not a PCG64 state"):
        mt.load_checkpoint(path)
    assert mt.random.generator().bit_generator.state == before


def test_an_optimizer_refusing_with_any_exception_leaves_the_model_as_it_was(tmp_path):
    # mutant K13: only a ValueError of the optimizer's load_state_dict caught: a KeyError escaped,
    # with the model already loaded
    saved, _ = _trained(seed=0)
    mt.save_checkpoint(tmp_path / "c.npz", model=saved, optimizer=_Trusting(saved.parameters()))
    model, _ = _trained(seed=1)
    before = model.state_dict()
    picky = _Trusting(model.parameters(), refuse=KeyError("momentum_buffer"))
    with pytest.raises(mt.ModelFileError, match="refused the saved state: KeyError: 'momentum_buffer'"):
        mt.load_checkpoint(tmp_path / "c.npz", model, picky)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def _tied():
    model = mt.Sequential(mt.Linear(2, 2), mt.Linear(2, 2))
    model[1].W = model[0].W
    return model


def test_a_file_whose_tied_entries_differ_is_refused_by_both_forms(tmp_path):
    # found by mutant M13 (the state loaded before the ties are made: the two names then hold their
    # own values): with the ties made first, a file giving '1.W' another value than '0.W' was loaded,
    # the last name's value winning; a file can only hold one value for one Parameter
    path = tmp_path / "m.npz"
    mt.save_model(_tied(), path)
    arrays = weights(path)
    arrays["1.W"] = arrays["1.W"] + 1
    write_with_header(tmp_path / "bad.npz", read_header(path), arrays)
    model = _tied()
    before = model.state_dict()
    bad = tmp_path / "bad.npz"
    for call in (lambda: mt.load_model(bad), lambda: mt.load_model(model, bad)):
        with pytest.raises(mt.ModelFileError, match=r"'0\.W' and '1\.W' are one object in the model"):
            call()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_tied_entries_holding_nan_load(tmp_path):
    model = _tied()
    model[0].W.data[0, 0] = np.nan
    mt.save_model(model, tmp_path / "m.npz")
    for loaded in (mt.load_model(tmp_path / "m.npz"), mt.load_model(_tied(), tmp_path / "m.npz")):
        assert loaded[1].W is loaded[0].W and np.isnan(loaded[0].W.data[0, 0])


def test_a_scheduler_of_another_optimizer_is_refused(tmp_path):
    # mutant K17: only a missing optimizer= refused, so the scheduler's lrs would land in an
    # optimizer the caller did not give
    model, opt = _trained()
    sched = mt.lr_scheduler.StepLR(opt, step_size=2)
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=sched)
    other = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match="scheduler= needs the optimizer it schedules as optimizer="):
        mt.load_checkpoint(tmp_path / "c.npz", model, other, scheduler=sched)


def test_a_draw_into_an_allocated_array_is_charged_before_it_fills_it(tmp_path, restore_registry):
    # mutant B08: a draw given out= was charged as one value; np.empty reserves the memory without
    # touching it, the draw is what fills it (9M float64 here, 72 MB)
    @mt.register_module
    class Filled(mt.Module):
        def __init__(self, n: int = 2):
            super().__init__()
            self.W = mt.Parameter(mt.random.generator().standard_normal(out=np.empty((n, n))))

    path = tmp_path / "m.npz"
    mt.save_model(Filled(), path)
    header = read_header(path)
    header["model"]["architecture"]["args"]["n"] = 3000
    write_with_header(path, header, weights(path))
    with pytest.raises(mt.ModelFileError, match="asks the random generator for 9000000 values"):
        mt.load_model(path)


def test_assign_refuses_tied_values_of_two_dtypes():
    # mutant S04 (state_assign): equal numbers in float32 and float64 for one Parameter were taken,
    # the first name's dtype winning
    model = _tied()
    state = model.state_dict()
    state["1.W"] = state["0.W"].astype(np.float64)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"are one object in the model .* different values"):
        model.load_state_dict(state, assign=True)
    for name, value in model.state_dict().items():
        assert value.dtype == before[name].dtype
        np.testing.assert_array_equal(value, before[name])


def test_an_argument_the_constructor_does_not_take_is_refused(tmp_path):
    # mutant B18: arguments outside the signature dropped without a word
    with pytest.raises(mt.ModelFileError, match=r"\(Linear\): unexpected arguments \[.evil.\]"):
        mt.load_model(_linear_file(tmp_path, evil=1))


def test_an_honest_deeply_nested_model_loads(tmp_path):
    # mutant B11: each container's count of what it holds counted its children's arrays again, so
    # 8 levels around one Linear(200, 200) came to 8x the file's elements, over the 4x budget
    model = mt.Linear(200, 200)
    for _ in range(8):
        model = mt.Sequential(model)
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    name = "0." * 8 + "W"
    np.testing.assert_array_equal(loaded.state_dict()[name], model.state_dict()[name])


def test_keyword_arguments_naming_a_declared_parameter_are_refused(tmp_path, restore_registry):
    # mutant B19: a **kwargs entry named as a declared parameter overrode the file's own value of it
    @mt.register_module
    class Options(mt.Module):
        def __init__(self, n: int = 2, **options):
            super().__init__()
            self.n, self.options = n, options

    path = tmp_path / "m.npz"
    mt.save_model(Options(3, colour="red"), path)
    assert mt.load_model(path).options == {"colour": "red"}
    header = read_header(path)
    header["model"]["architecture"]["args"]["options"]["__dict__"].append(["n", 4])
    write_with_header(path, header, weights(path))
    with pytest.raises(mt.ModelFileError, match=r"'\*\*options': bad keyword names \['colour', 'n'\]"):
        mt.load_model(path)
