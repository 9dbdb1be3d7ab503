"""Every module-level lock in minitorch is reset in a forked child: a child forked while another
thread of the parent held it has no such thread, and would wait for it forever (or never take the
path it guards). The registry is found, not listed: every module imported, every global of a lock
type, so a lock added without its at-fork reset fails here."""

from __future__ import annotations

import importlib
import os
import pkgutil
import queue
import sys
import threading
from types import ModuleType

import numpy as np
import pytest
from forking import child_answer

import minitorch

_LOCK_TYPES = tuple({type(threading.Lock()), type(threading.RLock()), threading._PyRLock})


def _module_locks() -> list[tuple[ModuleType, str]]:
    """(module, global name) of every lock held in a module global of minitorch."""
    for info in pkgutil.walk_packages(minitorch.__path__, "minitorch."):
        importlib.import_module(info.name)
    found = []
    for name, module in sorted(sys.modules.items()):
        if name == "minitorch" or name.startswith("minitorch."):
            found += [(module, key) for key, value in vars(module).items() if isinstance(value, _LOCK_TYPES)]
    return found


def test_the_scan_finds_the_known_locks():
    """The scan sees what it must (a lock of the pool, the twin, the model files), so an empty or
    broken scan cannot pass the test below."""
    names = {f"{module.__name__}.{key}" for module, key in _module_locks()}
    assert {"minitorch.kernels.pool._POOL_LOCK", "minitorch.kernels.twin._lock",
            "minitorch.kernels.embedding_ahead._lock", "minitorch.model_files.format._tmp_lock"} <= names


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_every_module_lock_is_free_in_a_child_forked_while_another_thread_held_it():
    locks = _module_locks()
    holding, leave = threading.Event(), threading.Event()
    held: dict[tuple[str, str], object] = {}
    taken = []

    def hold_every_lock() -> None:  # as threads inside each guarded section at the moment of the fork
        for module, key in locks:
            lock = getattr(module, key)
            if lock.acquire(blocking=False):  # (one held at rest, as kernels/zeros.py's _wake, stays so)
                taken.append(lock)
            held[module.__name__, key] = lock
        holding.set()
        leave.wait(30)
        for lock in taken:
            lock.release()

    holder = threading.Thread(target=hold_every_lock)
    holder.start()
    stuck = []
    try:
        assert holding.wait(10)
        for module, key in locks:
            before = held[module.__name__, key]

            def free(module=module, key=key, before=before) -> bool:  # a new lock, or one it can take
                lock = getattr(module, key)
                return lock is not before or lock.acquire(blocking=False)

            reply, code = child_answer(free, timeout=10.0)
            if reply != b"1":
                stuck.append(f"{module.__name__}.{key} (child answered {reply!r}, exit {code})")
    finally:
        leave.set()
        holder.join()
    assert not stuck, f"held in a forked child (give each an os.register_at_fork reset): {', '.join(stuck)}"


# Module-level state that belongs to a thread of the parent (its save in progress, its worker or
# maker thread, the arrays it was handing out): a forked child has none of those threads, so its
# at-fork handler must start it afresh, or the child keeps (and acts on) the parent's entries forever.
# (module, global, an entry of the kind it holds, the lock that keeps the parent's threads off it
# meanwhile): the container must be empty in a child forked while it held the entry.
_SHAPE_KEY = ((7, 3, 1, 5), np.dtype(np.float64))  # a shape no test asks for
FORK_CLEARED = [
    ("minitorch.model_files.format", "_in_progress", lambda: "/nonexistent/.m.npz.1.x.tmp", "_tmp_lock"),
    ("minitorch.kernels.pool", "_POOL", lambda: (_SHAPE_KEY, []), "_POOL_LOCK"),
    ("minitorch.kernels.zeros", "_ready", lambda: (_SHAPE_KEY, []), "_lock"),
    ("minitorch.kernels.zeros", "_thread", lambda: threading.Thread(target=print), "_lock"),
    ("minitorch.kernels.parallel", "_queues", queue.SimpleQueue, "_busy"),  # no job is sent meanwhile
]


def _add_entry(container: object, entry: object) -> None:
    if isinstance(container, set):
        container.add(entry)
    elif isinstance(container, dict):
        container[entry[0]] = entry[1]
    else:
        container.append(entry)


def _remove_entry(container: object, entry: object) -> None:
    if isinstance(container, dict):
        container.pop(entry[0], None)
    elif entry in container:
        container.remove(entry)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
@pytest.mark.parametrize("module_name, key, make_entry, lock",
                         FORK_CLEARED, ids=[f"{m}.{k}" for m, k, _, _ in FORK_CLEARED])
def test_thread_owned_state_is_empty_in_a_forked_child(module_name, key, make_entry, lock):
    module = importlib.import_module(module_name)
    container, entry = getattr(module, key), make_entry()
    with getattr(module, lock):
        _add_entry(container, entry)
        try:
            reply, code = child_answer(lambda: len(getattr(module, key)) == 0, timeout=10.0)
        finally:
            _remove_entry(container, entry)
    assert reply == b"1", f"{module_name}.{key} kept the parent's entries in a forked child (exit {code})"
