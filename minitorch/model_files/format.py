"""The container: an ``.npz`` archive of plain arrays plus one JSON header, read without pickle.

Layout of every file MiniTorch writes::

    __minitorch__.npy   uint8 array: the UTF-8 JSON header {"format": "minitorch",
                        "format_version": 1, "library_version": "0.1.0", "kind": ..., ...}
    <name>.npy          one numeric array per entry (weights, buffers, optimizer state)

Reading is strict, so that a damaged or hostile file can only ever raise ``ModelFileError`` and
costs about its own size: before any data is read, entry names are checked against what the
loader expects and no two entries' stored bytes may overlap (the overlapping-entry zip bomb);
entries must be stored uncompressed (as ``np.savez`` writes them), hold numeric dtypes (never
object arrays, so never pickle), declare no more bytes than they hold, and pass the zip CRC check;
the JSON must be well-formed UTF-8 with no duplicate keys.

Writing is atomic (``atomic_write``): temporary file, fsync, rename; umask and an existing file's
mode are respected, symlinks are written through, and stale temporary files are swept.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import math
import os
import stat
import struct
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

FORMAT = "minitorch"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
HEADER_KEY = "__minitorch__"
MAX_DEPTH = 64  # JSON nesting deeper than this is not something save_model writes
# A header is refused when (lists + objects + 2 * keys) * JSON_BYTES_PER_CONTAINER > its bytes +
# DENSITY_ALLOWANCE: past its first 64 KiB, at most one list or object per 5 bytes, a key counting
# as two (``check_density``). MiniTorch's own headers hold one per 5.6 to 9.5 bytes.
JSON_BYTES_PER_CONTAINER = 5
DENSITY_ALLOWANCE = 2**16
MAX_INT_DIGITS = 4300  # a longer JSON integer is refused (Python's own default limit, whatever sys says)


class ModelFileError(ValueError):
    """A model file is damaged, unsafe or does not match the model; the model was left untouched."""


# ------------------------------------------------------------------------------------ writing
def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it to ``path``.

    - A crash or an exception mid-way leaves the previous file at ``path`` (or none). The
      temporary file ``.<name>.<pid>.<random>.tmp`` is removed on any exception; one left by a
      killed process (``kill -9``, power loss) is removed by the next save to the same folder.
    - ``path`` a symlink: the file it points to is replaced, the link stays (``latest.npz ->
      run3/model.npz`` keeps pointing at the run).
    - ``path`` (or what it points to) a folder: IsADirectoryError; a FIFO, device or socket:
      OSError; both before anything is written (a rename would replace a FIFO or ``/dev/null``).
    - Permissions: an existing file keeps its mode; a new one gets 0o666 minus the umask, as
      ``open(path, "w")`` would give it.
    """
    target = Path(os.path.realpath(path))
    mode = _mode_for(target, path)
    tmp_name = None
    try:
        with _tmp_lock:  # a save in another thread must not sweep this file before it is listed
            _sweep_stale(target)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                                            suffix=".tmp")
            _in_progress.add(tmp_name)
        with os.fdopen(fd, "wb") as tmp:
            if hasattr(os, "fchmod"):
                os.fchmod(tmp.fileno(), mode)
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    finally:
        _in_progress.discard(tmp_name)
    _fsync_folder(target.parent)


_tmp_lock = threading.Lock()
_in_progress: set[str | None] = set()


def _reset_after_fork() -> None:
    """A forked child has only the forking thread: another thread of the parent may have held the
    lock mid-save (the child's saves would wait for it forever), and the temporary files of the
    parent's saves in progress are not the child's (kept listed, the child's sweep would never
    remove one its parent left when killed mid-save)."""
    global _tmp_lock
    _tmp_lock = threading.Lock()
    _in_progress.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def _mode_for(target: Path, path: str | os.PathLike[str]) -> int:
    """The mode to write ``target`` with: its own if it exists, else 0o666 minus the umask.
    ``target`` (``path`` resolved) must be a regular file or absent: renaming over a folder fails
    only after the whole write, and over a FIFO or a device (``/dev/null``) would replace it."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(f"cannot save to {os.fspath(path)!r}: it is a folder; expected a file path")
    if not stat.S_ISREG(status.st_mode):
        raise OSError(f"cannot save to {os.fspath(path)!r}: it is not a regular file (a FIFO, device or "
                      "socket), which a save would replace by renaming a new file over it; expected a "
                      "path to a regular file or to none")
    return stat.S_IMODE(status.st_mode)


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _tmp_lock:  # elsewhere: set and put back (under the lock, so our own saves never race)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _sweep_stale(target: Path) -> None:
    """Remove temporary files of earlier saves to ``target`` whose process no longer runs."""
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = leftover.name[len(target.name) + 2:].split(".")[0]
        if not pid.isdigit() or str(leftover) in _in_progress:
            continue
        if int(pid) == os.getpid() or not _running(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):  # someone else's process, or a platform without it
        return True
    return True


def atomic_write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz`` (temporary file + fsync + rename)."""
    for name, array in arrays.items():
        if np.asarray(array).dtype.kind not in "biuf":
            raise TypeError(f"'{name}': expected a numeric array, got dtype {np.asarray(array).dtype}")

    atomic_write(path, lambda file: write_npz(file, arrays))


def write_npz(file: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz`` archive into an open binary file, never pickling; each
    array row-major, so the bytes depend on its numbers only (not on its layout in memory)."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def header_array(header: dict[str, Any]) -> np.ndarray:
    """The JSON header as the uint8 array stored under ``HEADER_KEY``; a TypeError, before any file
    is written, if ``read_header`` would refuse it as too dense (``check_density``)."""
    text = json.dumps(header, allow_nan=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
    check_density(text, TypeError, ": the loaders would refuse the file; store many small lists as "
                                   "an array (strings full of '[', '{' or ':' count too)")
    return np.frombuffer(text, dtype=np.uint8)


def check_density(text: bytes, error: type[Exception], advice: str = "") -> None:
    """Raise ``error`` if the header ``text`` holds more than one ``[`` or ``{`` per
    ``JSON_BYTES_PER_CONTAINER`` bytes past its first ``DENSITY_ALLOWANCE`` (64 KiB), a ``:`` (an
    object's key) counting as two, i.e. if (``[`` + ``{`` + 2 ``:``) * 5 > len(text) + 64 KiB:
    the one rule of ``header_array`` and ``read_header``. Brackets and colons inside strings count
    too: the reader counts before it parses."""
    # A parsed JSON list or empty object costs ~64 bytes, an object with a key ~192 (its table):
    # 64 bytes per unit, and one unit per 5 bytes caps parsing at ~13x the header (strings and
    # numbers cost at most ~12x). MiniTorch's own headers hold a unit per 5.6 (a Sequential of
    # ReLUs) to 9.5 bytes (a weights-only checkpoint with Adam's state), under the limit's 5 at any
    # size; `[[],[],...]` would cost 21x, `[{"":0},...]` 27x.
    containers = text.count(b"[") + text.count(b"{")
    keys = text.count(b":")
    if (containers + 2 * keys) * JSON_BYTES_PER_CONTAINER > len(text) + DENSITY_ALLOWANCE:
        raise error(f"the header is implausibly dense JSON ({containers} lists and objects and {keys} "
                    f"keys in {len(text)} bytes: more than one list or object per "
                    f"{JSON_BYTES_PER_CONTAINER} bytes past the first {DENSITY_ALLOWANCE}, a key "
                    f"counting as two){advice}")


# ------------------------------------------------------------------------------------ reading
def read_npz(
    path: str | os.PathLike[str], check_names: Callable[[list[str]], None] | None = None
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read strictly and without pickle; damage -> ModelFileError.

    Before a byte of array data is read, the archive's directory is checked: entry names
    (``check_names(names)`` may refuse more), no two entries' stored bytes overlap and together
    they fit in the file; so reading costs at most about the file's own size in memory.
    A missing file raises ``FileNotFoundError`` (and other OS errors stay what they are).
    """
    with open(path, "rb") as file:
        try:
            return _read_archive(file, check_names)
        except ModelFileError as err:
            raise ModelFileError(f"{os.fspath(path)}: {err}") from None
        except Exception as err:  # zipfile, zlib, numpy's header parser... each fails its own way
            raise ModelFileError(
                f"{os.fspath(path)} is not a readable model file ({type(err).__name__}: {err})"
            ) from None


def _read_archive(file: IO[bytes], check_names: Callable[[list[str]], None] | None) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
        names = _entry_names(infos)
        if check_names is not None:
            check_names(names)
        _check_layout(file, infos, archive.start_dir)
        for name, info in zip(names, infos, strict=True):
            with archive.open(info) as member:
                arrays[name] = _read_member(member, name, info.file_size)
    return arrays


def _entry_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    """The array names (``name.npy`` -> ``name``): unique, stored uncompressed."""
    names: dict[str, None] = {}  # a dict: the duplicate check costs O(1), whatever the entry count
    for info in infos:
        if not info.filename.endswith(".npy") or len(info.filename) == 4:
            raise ModelFileError(f"unexpected entry '{info.filename}' (expected name.npy arrays)")
        name = info.filename[:-4]
        if name in names:
            raise ModelFileError(f"entry '{name}' appears twice")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(f"entry '{name}' is compressed; expected stored arrays")
        names[name] = None
    return list(names)


def _check_layout(file: IO[bytes], infos: list[zipfile.ZipInfo], directory_start: int) -> None:
    """Each entry's bytes (local header + data) lie before the directory, and no two overlap.

    Python's zipfile would happily read one stored blob for many entries (an overlapping-entry
    zip bomb: each read allocates again); here the entries' sizes add up to at most the file.
    """
    spans = []
    for info in infos:
        if info.file_size != info.compress_size:
            raise ModelFileError(f"entry '{info.filename}' declares {info.file_size} bytes, stores "
                                 f"{info.compress_size}")
        file.seek(info.header_offset)
        local = file.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ModelFileError(f"entry '{info.filename}' has no local header at its offset")
        name_length, extra_length = struct.unpack("<2H", local[26:30])
        end = info.header_offset + 30 + name_length + extra_length + info.compress_size
        spans.append((info.header_offset, end, info.filename))
    spans.sort()
    for (_, end, name), (start, _, after) in itertools.pairwise(spans):
        if start < end:
            raise ModelFileError(f"entries '{name}' and '{after}' overlap in the file")
    if spans and spans[-1][1] > directory_start:
        raise ModelFileError(f"entry '{spans[-1][2]}' runs past the end of the stored data")


def _read_member(member: IO[bytes], name: str, size: int) -> np.ndarray:
    """One ``.npy`` member: header, then exactly the declared bytes, which end the member (CRC
    checked)."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ModelFileError(f"entry '{name}' has unsupported .npy version {version}")
    if dtype.kind not in "biuf" or dtype.hasobject or dtype.fields is not None or dtype.subdtype:
        raise ModelFileError(f"entry '{name}': expected a numeric array, got dtype {dtype}")
    if any(d < 0 for d in shape):
        raise ModelFileError(f"entry '{name}' has a negative dimension in shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    held = size - member.tell()  # the entry's bytes after its .npy header
    if nbytes != held:  # checked before allocating: a forged shape cannot claim memory
        raise ModelFileError(f"entry '{name}' declares {shape} {dtype} ({nbytes} bytes), but holds "
                             f"{held} bytes of data")
    # exactly the member's remaining bytes: zipfile returns them all (a short file is its EOFError,
    # _check_layout has placed them before the directory) and checks the CRC on the last one
    data = member.read(nbytes)
    array = np.frombuffer(bytearray(data), dtype=dtype)
    array = array.reshape(shape, order="F" if fortran_order else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_header(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """The checked JSON header of a MiniTorch file, or None if the archive has no header entry."""
    if HEADER_KEY not in arrays:
        return None
    raw = arrays[HEADER_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"the header must be a 1-D uint8 array, got {raw.dtype} {raw.shape}")
    text = raw.tobytes()
    check_density(text, ModelFileError)
    try:
        header = json.loads(
            text.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
        )
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ModelFileError(f"the header is not valid JSON: {err}") from None
    header = expect(header, dict, "the header")
    if header.get("format") != FORMAT:
        raise ModelFileError(f"not a MiniTorch file: format {header.get('format')!r}")
    version = header.get("format_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"unsupported format_version {version!r}: this MiniTorch reads {list(SUPPORTED_VERSIONS)}"
        )
    expect(header.get("library_version"), str, "library_version")
    return header


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return result


def _bounded_int(text: str) -> int:
    """A JSON integer of at most ``MAX_INT_DIGITS`` digits (``codec.Encoder`` writes no longer one):
    converting a longer one costs quadratic time, whatever ``sys.set_int_max_str_digits`` allows."""
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS} are read)")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a MiniTorch header")


def expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    """``value`` if it has the JSON type ``kind`` (bool is not an int here), else ModelFileError."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ModelFileError(f"{where}: expected {names}, got {type(value).__name__} {_short(value)}")
    return value


def expect_keys(obj: dict[str, Any], required: set[str], where: str) -> None:
    """ModelFileError unless ``obj`` has exactly the keys ``required``."""
    missing = sorted(required - set(obj))
    unknown = sorted(set(obj) - required)
    if missing or unknown:
        raise ModelFileError(f"{where}: missing keys {missing}, unknown keys {unknown}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
