"""One-row inference of a large Linear/ReLU chain on both cores: the twin computes half of each layer.

Replaces ``Sequential.forward`` under ``no_grad`` for a chain ``Linear, ReLU, ..., Linear`` (exact
types; each Linear followed by at most one ReLU) given one row x (1, in_features) of W's dtype:
    h_0 = x;  h_i = relu?(h_{i-1} @ W_i + b_i)
A one-row product ``x @ W`` is a matrix-vector product that OpenBLAS runs on one thread, and its
time is reading W: a 784x512 float32 weight is 1.6 MB, and the whole 784-512-256-10 model does not
fit one core's 2 MB L2. Here the chain's first layers with a weight of ``SPLIT_BYTES`` or more (the
"cut" layers, ``MIN_SPLIT_BYTES`` in all at least) are cut by columns: the caller computes
``h[:, :c] = relu?(h_prev @ W[:, :c] + b[:c])`` while the kernels' twin (``kernels/twin.py``, a
forked process on the other core) computes ``h[:, c:]`` from ``W[:, c:]``, each writing its half of
h into shared memory (in the second cut layer, the fourth, ... the caller takes the last columns:
``inference_plan._half``); the layers after the cut ones run in the caller. The caller's share of
the columns starts at ``CALLER_SHARE`` (3/8, the smaller: a call posts its job before checking its
plan, so the twin starts its part while the caller checks, ``_posted_first``) and then follows
the two sides' speeds on this machine, in this process and under this load: every ``TALLY``
shared calls a cut layer's split moves a vector block of columns towards the side that finished
its half later (``_balance``). Saves, per call, over half of the weight reads on the caller's core
(each core's part stays in its own L2 from call to call), and the children's Python calls (one
loop instead of a call per child).
Each element of h sums the same products as ``h_prev @ W``, but the BLAS picks its blocking of a
matrix-vector product by the width of the matrix it is given, so a column of a half may add them in
another order than the same column of the whole: equal to the plain chain up to float rounding
(tests/test_kernels.py, rtol 1e-5 in float32; bitwise for the 784-512-256-10 model's cuts here).
Without the twin (one BLAS thread, ``MINITORCH_TWIN=0``, a small model, a twin that keeps missing)
one row runs through any Linear/ReLU chain in one loop (``_alone``, ``kernels/inference_alone.py``),
with the children's own operations: the plain chain's numbers bitwise, minus a call per child.

Files, each importing only those below it: this one (the call, the session, the cool-down);
``inference_plan.py`` (a chain's plan, its check at every call, the weights moved to shared
memory); ``inference_alone.py`` (the loop without the twin); ``inference_twin.py`` (the twin's side).

How the two processes meet without a system call per layer (one that wakes a process on the other
core costs tens of microseconds on a virtual machine, as much as the whole product): the twin runs
a *session*, ``inference_twin.serve`` (started by ``twin.run``), which spins on a shared int64
control block, takes each job the caller posts there, and returns after ``IDLE_S`` without a job.
A job costs a few memory writes and reads each way. A session starts only on the ``STREAK``-th
call in a row that comes within ``IDLE_S`` of the previous one (a stream of calls: starting one
costs a socket message, as much as a few calls); the calls before, that one, and those made while
the twin wakes and reads its half of the weights once (into its cache) run alone in the caller.
While it spins between jobs the twin keeps its core busy, as an OpenMP pool's threads do; after
``POLITE_S`` without a job it offers the core to other processes at each look (``sched_yield``).
Another task sent to the twin stops the session first (``job.stop``). Plans (a chain's shared
arrays) are kept for the last ``KEEP_PLANS`` chains; one session runs at a time, for one chain:
while it is live, another chain's calls run alone (two chains called in turn, as a nested
Sequential's halves, never stop each other's sessions). A plan holds its model weakly and goes
when the model is collected (its session stopped first), so the cache never keeps a deleted
model's layers and weights alive (``_model_collected``); nothing is added to a call.

Never a silent wrong answer:
- The twin reads the CURRENT weights: every W and b of the cut layers lives in a shared buffer
  (``twin.empty``). A Parameter's array is moved there (``p.data`` becomes a shared copy: same
  numbers, shape and dtype) only when nothing but the Parameter holds it (reference counts, trusted
  after the probe of ``kernels/flat.py``), or is used as it is when it lies in one already. After
  a tally of shared calls (``TALLY``) with the model and every child in eval mode (``_in_eval``),
  the next call makes the plan again with the cut weights column-major (once per plan: a weight
  someone holds stays as it is): each side's columns are then one contiguous block, and the BLAS's
  matrix-vector product reads them as dot products of contiguous columns (the plain chain on those
  arrays gives the same numbers; within float rounding of the row-major ones). Those arrays are
  lent (``minitorch/lent_weights.py``): where a module's mode changes, ``train()`` drops the plans
  holding them and gives each Parameter a private row-major copy (``_give_back``), unless someone
  else holds the array; training then runs on row-major weights. A few calls per eval phase never
  reach a tally, so switching modes around them copies nothing. Every
  call checks by identity that each Parameter's ``data`` is still its plan's array, else the plan
  is made again (or the chain runs as before, child by child). An in-place change (an optimizer
  step) is seen by both processes: they read the one array. A job posted before these checks
  (``_posted_first``) is read only once they have passed; when one fails the call goes the usual
  way with a new job, and what the twin writes for the old one is never read.
- The caller reads the twin's half of a layer only after the twin's flag for that layer carries
  this job's number (x86-64 keeps stores in order, so the half is written by then; other machines
  never take this path). A twin that has not taken the job by the time the caller's first half
  is done, or has not answered within ``WAIT_S`` after (descheduled on a busy machine, stopped,
  killed), is not waited for: the caller computes the twin's half itself into its
  own array and finishes the call alone; what the twin writes later belongs to a job no one reads
  (the twin never writes the weights, the caller returns a fresh array). After ``MISSES`` such
  calls in a row the chain runs alone for a while (``COOLDOWN_S``: 1 ms, doubled at each such
  spell up to 50 ms, short again after ``GOOD`` shared calls in a row); a dead twin is noticed and
  not used again.
- A cut layer's split (which columns each side computes) changes only after a call whose halves
  the caller all read, when the twin has finished every job it took (``_balance``): no half is
  written with one split and read with another, and a job no one reads writes only its own
  split's columns, which the caller's next job (the same split) leaves to the twin.
- A floating-point error (overflow, invalid, divide) in the twin's half is handed back: the caller
  computes that half, so ``np.errstate`` and warning filters act as on the plain chain.
- A process forked from one whose weights were moved (``multiprocessing``, a user's fork) turns
  those buffers, as every live shared buffer, into private memory of the child at the same
  addresses (``twin._reset_after_fork``): parent and child never train one shared copy.
"""

from __future__ import annotations

import functools
import os
import platform
import select
import time
import weakref
from typing import Any

import numpy as np

from minitorch import lent_weights, threads
from minitorch.kernels import twin
from minitorch.kernels.flat import _counts_trusted
from minitorch.kernels.inference_alone import _alone, _layer, _leave_frames
from minitorch.kernels.inference_plan import SPLIT_BYTES, _current, _Declined, _getrefcount, _make_plan, _Plan
from minitorch.kernels.inference_twin import CALLER, SPLIT, TAKEN, TWIN, half_layer, serve
from minitorch.kernels.twin_session import ALIVE, REQ, STOP, allowed_cpus, current_cpu

IDLE_S = 0.002  # a session returns to the twin's idle loop after this long without a job
STREAK = 8  # calls in a row, each within IDLE_S of the last, before a session starts
WAIT_S = 2e-5  # the caller waits this long for the twin's half before computing it itself
TAKE_S = 0.0  # ... once the twin has taken the job (else its first half is not waited for at all)
# after MISSES calls in a row that the twin missed, alone for a spell: the first as long as the
# twin usually stays descheduled on a busy machine (and shorter than IDLE_S: its session waits),
# doubled at each spell up to the last, and short again after GOOD shared calls in a row
MISSES, COOLDOWN_S, GOOD = 3, (0.001, 0.05), 64
TALLY = 32  # shared calls between two looks at the cut layers' splits (``_balance``)
_X86 = platform.machine().lower() in ("x86_64", "amd64")
SPINS = 32  # the caller looks at a flag this many times between two looks at the clock
KEEP_PLANS = 4
_plans: dict[int, Any] = {}

# the session ("job") and the plan it serves ("owner"); "served": calls the twin shared (tests)
# _plans: id(model) -> its plan, the last KEEP_PLANS chains (a plan keeps its chain's children
# alive while it is kept, and is dropped when its model is collected; the session's plan is dropped
# only after its session has stopped, as the session would otherwise go on reading its control
# block). _orphans: plans of collected models whose session could not be stopped then (the twin
# was busy): dropped when the next plan is made or the next session starts.
_orphans: list[Any] = []
_state: dict[str, Any] = {"owner": None, "job": None, "session": 0, "k": 0, "misses": 0, "cool": 0.0,
                          "spell": COOLDOWN_S[0], "good": 0, "streak": 0,
                          "served": 0, "last": 0.0, "declined": None}


def chain_forward(model: Any, x: Any, linear: type, relu: type) -> Any:
    """``Sequential.forward`` under no_grad for one row through a large Linear/ReLU chain, or
    ``NotImplemented`` (the caller runs the children one by one)."""
    if type(x) is not np.ndarray or x.ndim != 2 or x.shape[0] != 1:
        return NotImplemented
    plan = _plans.get(id(model))
    if plan is not None and plan.relayout and plan.model() is model:  # the cut weights column-major now
        plan = None  # (the old plan's arrays must be free to move)
        plan = _new_plan(model, x, linear, relu, column_major=True)
        if plan is None:
            return _alone(model, x, linear, relu)
    if plan is not None and plan is _state["owner"]:  # its session may be live: the job goes first
        y = _posted_first(plan, model, x, relu)
        if y is not None:
            return y
    if plan is None or plan.model() is not model or not _current(plan, model):
        plan = _new_plan(model, x, linear, relu)
        if plan is None:
            return _alone(model, x, linear, relu)
    if (x.dtype is not plan.dtype and x.dtype != plan.dtype) or x.shape[1] != plan.x.shape[1]:
        return NotImplemented
    if time.monotonic() < _state["cool"] or not _threads_ok() or not twin.acquire():
        return _alone(model, x, linear, relu)
    try:
        _leave_frames(plan.children, relu)
        return _run(plan, x)
    finally:
        twin.release()


def _posted_first(plan: _Plan, model: Any, x: np.ndarray, relu: type) -> np.ndarray | None:
    """The call of a chain whose session runs, or None (then ``chain_forward`` goes its usual way,
    which posts a new job). The job is posted before the call checks its plan (``_current``, the
    session alive, the cool-down and the thread count), so the twin computes its first half while
    the caller checks: until every check has passed nothing the twin writes for this job is read,
    and the twin reads only the plan's arrays (which the plan keeps alive) and writes only its
    halves of h, never the weights."""
    if (x.dtype is not plan.dtype and x.dtype != plan.dtype) or x.shape[1] != plan.x.shape[1]:
        return None
    if not twin.acquire():
        return None
    try:
        job = _state["job"]
        if plan is not _state["owner"] or job is None or job.done or plan.flags[ALIVE] != _state["session"]:
            return None  # (the session has left: no job posted)
        k, now = _post(plan, x), time.monotonic()
        if (plan.model() is not model or not _current(plan, model) or now < _state["cool"]
                or not _threads_ok()):
            return None  # job k is left to the twin: no one reads it
        _state["streak"] = _state["streak"] + 1 if now - _state["last"] <= IDLE_S else 1
        _state["last"] = now
        _leave_frames(plan.children, relu)
        return _finish(plan, x, k, False)
    finally:
        twin.release()


def _threads_ok() -> bool:
    """The twin may run: it is alive and the BLAS thread count that MiniTorch set is 2+ (read
    from ``minitorch.threads``' record, a dictionary look-up; ``twin.available()`` asks the BLAS
    itself, and runs whenever a session starts)."""
    count = threads._state["current"]
    return not twin._state["dead"] and (count >= 2 if count is not None else twin.available())


def _new_plan(model: Any, x: np.ndarray, linear: type, relu: type,
              column_major: bool = False) -> _Plan | None:
    """A plan for ``model``, or None; a chain declined once is declined again at the cost of an
    identity check until its children or arrays change or RETRY_S pass (a small model pays one
    look at its first weight)."""
    first = next(iter(model.__dict__["_modules"].values()), None)
    if type(first) is not linear or first.W.data.nbytes < SPLIT_BYTES:
        return None  # the cut layers begin with the first one
    declined = _state["declined"]
    if (declined is not None and declined.model() is model and time.monotonic() < declined.until
            and _current(declined, model)):
        return None
    _state["declined"] = declined = None  # it holds the arrays: a move needs them free
    if not _X86 or not _threads_ok() or not twin.available():
        return None
    if not twin.acquire():  # another thread holds the twin: this call runs alone
        return None
    try:  # (holding the twin: a session is stopped here)
        while _orphans:
            _drop_orphan(_orphans.pop())
        _drop_plan(id(model))
        plan = _make_plan(model, x, linear, relu, _model_collected, _give_back, column_major)
        if plan is not None:
            while len(_plans) >= KEEP_PLANS:
                _drop_plan(next(iter(_plans)))
            _plans[id(model)] = plan
    finally:
        twin.release()
    if plan is None:
        children = tuple(model.__dict__["_modules"].values())
        params = tuple(p for m in children for p in m.parameters())
        _state["declined"] = _Declined(model, children, params, _declined_collected)
    return plan


def _give_back(p: Any) -> None:
    """``p.data``, lent by a plan (``lent_weights``), becomes a private row-major copy when nothing
    but ``p`` holds it once the plans holding it are dropped (their sessions stopped); else it
    stays. Called by ``train()`` where a module's mode changes."""
    if not twin.acquire():  # another thread is inside a call: the array stays lent
        return
    try:
        _drop_plans_of(p.data)
    finally:
        twin.release()
    a = p.data
    if _counts_trusted() and _getrefcount(a) == 3:  # p's slot, this local, the argument
        p.data = np.array(a, order="C")


def _drop_plans_of(a: np.ndarray) -> None:
    """Forget every plan (and the declined chain) holding the array ``a``; holding the twin."""
    for key in [key for key, plan in _plans.items() if any(held is a for held in plan.arrays)]:
        _drop_plan(key)
    _orphans[:] = [plan for plan in _orphans if not any(held is a for held in plan.arrays)]
    declined = _state["declined"]
    if declined is not None and any(held is a for held in declined.arrays):
        _state["declined"] = None


def _drop_plan(key: int) -> None:
    """Forget the plan kept under ``key``, stopping its session first if it has the live one."""
    plan = _plans.pop(key, None)
    if plan is not None and plan is _state["owner"]:
        _stop_session()


def _model_collected(ref: weakref.ref) -> None:
    """A planned model was collected (its plan's weak reference calls this): the plan goes, so its
    layers and weights are freed with the model. A plan without the live session goes at once
    (nothing else reads its arrays); the session's plan once its session has stopped, here if the
    twin is free, else (another call holds it) when the next plan is made or session starts."""
    for key, plan in list(_plans.items()):  # (at most KEEP_PLANS; a copy: this may run in any call)
        if plan.model is not ref:
            continue
        if plan is not _state["owner"]:
            _plans.pop(key, None)
        elif twin.acquire():
            try:
                _drop_plan(key)
            finally:
                twin.release()
        else:
            _orphans.append(plan)


def _drop_orphan(plan: _Plan) -> None:
    """Drop a collected model's plan (``_model_collected``) if it is still kept; holding the twin."""
    for key, kept in list(_plans.items()):
        if kept is plan:
            _drop_plan(key)


def _declined_collected(ref: weakref.ref) -> None:
    """The declined chain's model was collected: forget its children and weights with it."""
    declined = _state["declined"]
    if declined is not None and declined.model is ref:
        _state["declined"] = None


def _run(plan: _Plan, x: np.ndarray) -> np.ndarray:
    """The chain for one row: the cut layers shared with the twin (or all here, alone), the rest here."""
    k = _post(plan, x)
    alone = not _session(plan, plan.flags)  # a session starting now: its twin wakes later than this waits
    return _finish(plan, x, k, alone)


def _post(plan: _Plan, x: np.ndarray) -> int:
    """Post a new job for the row x (its number: they only grow); a live session takes it at once."""
    k = _state["k"] = _state["k"] + 1
    np.copyto(plan.x, x)
    plan.flags[REQ] = k
    return k


def _finish(plan: _Plan, x: np.ndarray, k: int, alone: bool) -> np.ndarray:
    """Job k's call: each cut layer's half here and the twin's half read once its flag says k
    (``alone``: all of it here), then the rest of the chain here."""
    # (plan.zero: a 0-d zero, so that NumPy resolves no Python scalar per call)
    ctrl, zero, choice, early = plan.flags, plan.zero, plan.choice, plan.early
    h = x
    for i, (W, b, relu, out, halves) in enumerate(plan.cut):
        if alone:
            h = _layer(h, W, b, relu, zero)
            continue
        _, Wa, ba, oa, Wb, bb, theirs = halves[choice[i]]
        half_layer(h, Wa, ba, relu, oa, zero)
        ctrl[CALLER + i] = k
        if ctrl[TWIN + i] == k:  # the twin's half was done first
            early[i] += 1
            h = out
            continue
        # the twin's half comes soon: it has taken this job (a twin that has not is off its core,
        # for a scheduler's time slice: not waited for)
        if (i or _wait(ctrl, TAKEN, k, TAKE_S)) and _wait(ctrl, TWIN + i, k, WAIT_S):
            h = out
            continue
        # the twin's half here, into the caller's own copy (what the twin writes later is never read)
        _missed()
        alone, h_in, h = True, h, out.copy()
        y = h_in @ Wb
        if bb is not None:
            y += bb
        h[:, theirs] = np.maximum(zero, y) if relu else y
    if not alone:
        _state["served"] += 1
        _state["misses"], _state["good"] = 0, _state["good"] + 1
        if _state["good"] >= GOOD:
            _state["spell"] = COOLDOWN_S[0]
        plan.tally += 1
        if plan.tally >= TALLY:  # (>=: a Ctrl-C as _balance began leaves it at TALLY)
            _balance(plan)
            plan.relayout = not plan.column_major and _in_eval(plan)
    for W, b, relu in plan.rest:
        h = _layer(h, W, b, relu, zero)
    return h if plan.rest or alone else h.copy()  # never a shared buffer


def _in_eval(plan: _Plan) -> bool:
    """The plan's model and every child are in eval mode, outside a temporary switch
    (``lent_weights.kept``: ``predict``, ``evaluate``)."""
    model = plan.model()
    return (model is not None and not model.training and not any(m.training for m in plan.children)
            and not lent_weights.keeping())


def _balance(plan: _Plan) -> None:
    """After TALLY shared calls, each cut layer's split moves by one vector block of columns towards
    the side that finished its half later in most of them: to the twin where its half was done
    before the caller's in more than 3/4 of them, to the caller in fewer than 1/4 (a machine, a
    process's page placement and the load each give the two halves other costs). Called only
    after a call whose halves were all read: the twin has finished every job it took, so no half is
    being written while the split changes."""
    for i, early in enumerate(plan.early):
        s = plan.choice[i]
        if early * 4 > 3 * TALLY and s > 0:
            s -= 1
        elif early * 4 < TALLY and s + 1 < len(plan.cut[i][4]):
            s += 1
        plan.choice[i] = plan.ctrl[SPLIT + i] = s
        plan.early[i] = 0
    plan.tally = 0


def _wait(ctrl: memoryview, flag: int, k: int, patience: float) -> bool:
    """Whether the twin's flag reaches job k within ``patience`` seconds (spinning); False at once
    when it is -k (a floating-point error in the twin's half: the caller computes it, and its
    NumPy raises or warns as the plain chain's)."""
    if ctrl[flag] == k:
        return True
    deadline = time.perf_counter() + patience
    while True:
        for _ in range(SPINS):
            v = ctrl[flag]
            if v == k:
                return True
            if v == -k:
                return False
        if time.perf_counter() > deadline:
            return False


def _missed() -> None:
    """A call the twin missed: it counts towards a spell alone, and a twin that has died or whose
    session has left is collected."""
    _state["misses"], _state["good"] = _state["misses"] + 1, 0
    if _state["misses"] >= MISSES:
        spell = _state["spell"]
        _state["misses"], _state["cool"] = 0, time.monotonic() + spell
        _state["spell"] = min(2 * spell, COOLDOWN_S[1])
    job, sock = _state["job"], twin._state["sock"]
    if job is not None and (sock is None or select.select([sock], [], [], 0)[0]):
        _state["job"] = _state["owner"] = None  # the session has replied (it left), or the twin is gone
        _collect(job)


def _session(plan: _Plan, ctrl: memoryview) -> bool | None:
    """Make sure a session of ``plan`` runs in the twin: True if it was running, False if it starts
    now (the twin takes the posted job once awake), None if there is no twin for this call."""
    job, owner = _state["job"], _state["owner"]
    now = time.monotonic()
    streak = _state["streak"] = _state["streak"] + 1 if now - _state["last"] <= IDLE_S else 1
    _state["last"] = now
    if job is not None:
        if not job.done and owner.flags[ALIVE] == _state["session"]:
            return True if owner is plan else None  # (another chain's session: this call alone)
        if streak < STREAK:
            return None  # no session is wanted yet: an ended one is collected when one is
        if not job.done:  # not started yet, or left (idle): once its reply is here, a new one starts
            sock = twin._state["sock"]
            if sock is not None and not select.select([sock], [], [], 0)[0]:
                return None
            _collect(job)
        _state["job"] = _state["owner"] = None
        if _state["cool"] == float("inf"):
            return None
    if streak < STREAK or not twin.available():  # a session costs a socket message: only for
        return None  # a stream of calls
    allowed = allowed_cpus()
    if allowed is not None and len(allowed) < 2:  # (taskset to one CPU: the two would share it)
        return None
    while _orphans:  # (no session runs now: a collected model's plan goes at once)
        _drop_orphan(_orphans.pop())
    session = _state["session"] = _state["session"] + 1
    args = [plan.ctrl, session, _state["k"], os.getpid(), IDLE_S, current_cpu(), plan.x]  # (this job: here)
    for W, b, relu, out, halves in plan.cut:
        args += [W, b, out, [(t.start, t.stop) for *_, t in halves], relu]
    plan.ctrl[STOP] = 0  # no session reads the block now
    job = twin.run(serve, *args)
    if not job.sent:
        _collect(job)  # (runs serve here, which returns at once)
        return None
    job.stop = functools.partial(_tell_stop, plan.ctrl, weakref.ref(job))  # (no cycle: an ended Job
    # is freed at once, with the arrays its arguments hold)
    _state["job"], _state["owner"] = job, plan
    return False


def _collect(job: Any) -> None:
    """Take a session's reply (it has left, or the twin is gone: ``Job.wait`` tells which). An
    error raised in the twin would be a bug of ``serve``: the twin is not used by this module
    again (the calls run alone), rather than the user's call failing."""
    try:
        job.wait()
    except Exception:
        _state["cool"] = float("inf")


def _stop_session() -> None:
    """Ask the running session to return, and wait for it (a new plan)."""
    job, _state["job"], _state["owner"] = _state["job"], None, None
    if job is not None and not job.done:
        job.stop()
        _collect(job)


def _tell_stop(ctrl: np.ndarray, job: weakref.ref) -> None:
    """A session's ``stop`` (called by ``twin.run`` before another task, or above): the session
    returns at its next look at the control block; the job's patience counts from now."""
    ctrl[STOP] = 1
    if job() is not None:
        job().started = time.monotonic()


def served(model: Any, x: np.ndarray, timeout: float = 30.0) -> np.ndarray:
    """``model(x)`` under no_grad, repeated until a call was shared with the twin (its output), for
    tests: the first call of a session runs alone while the twin wakes. RuntimeError after
    ``timeout`` seconds without one (a time, not a call count: on a machine whose cores other
    processes hold, the plan's first call and the twin's wake-up take seconds)."""
    from minitorch.grad_mode import no_grad

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _state["served"]
        with no_grad():
            y = model(x)
        if _state["served"] > before:
            return y
        time.sleep(0.001)
    raise RuntimeError("inference: no call was shared with the twin")


def _forget_after_fork() -> None:
    """A forked child has no twin and no session (its weights are made private by
    ``inference_twin``'s own fork handler)."""
    _plans.clear()
    _orphans.clear()
    _state.update(owner=None, job=None, misses=0, cool=0.0, declined=None, spell=COOLDOWN_S[0], good=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
