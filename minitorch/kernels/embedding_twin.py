"""The twin's side of ``kernels/embedding_ahead.py``: its session's jobs: group ids, zero-fill.

``serve`` runs in the kernels' twin (``twin.run(serve, ...)``): as a session
(``kernels/twin_session.py``) it spins on a shared int64 control block and takes each job the caller
posts there (job numbers only grow). A job is the ids of one Embedding forward: the twin groups them
as ``scatter_rows`` does (``grouping.runs``), writes the result into the shared result arrays and
raises GROUPED to the job's number; then it zero-fills the gradient array the job names, if any, and
raises that array's READY flag. It reads the ids and the array to fill only after taking the job,
and writes nothing but the results, the named array and the flags. It returns after ``idle`` seconds
without a job or when the caller sets STOP.
"""

from __future__ import annotations

import mmap

import numpy as np

from minitorch.kernels import twin_session
from minitorch.kernels.grouping import runs

# control block (int64): the job posted, the live session's id, a stop request, the job whose ids
# are grouped, the ids' count, the largest id + 1 allowed, the row width, the array to fill (-1:
# none), the grouping's distinct ids and ranks (ranks 0: repeated too often, np.add.at's case; -1:
# ids out of range), then per gradient array the job that filled it (READY + j)
GROUPED, COUNT, ROWS, WIDTH, FILL, UNIQ, RANKS, READY = range(3, 11)  # (after twin_session's three)


def serve(ctrl_array: np.ndarray, session: int, parent: int, idle: float, cpu: int, ids: np.ndarray,
          uniq: np.ndarray, positions: np.ndarray, lengths: np.ndarray, *grads: np.ndarray) -> None:
    """The twin's session (``twin_session.serve``): take each job posted in the control block, group
    its ids and fill the array it names, return after ``idle`` seconds without a job or when asked
    to stop. Before the first job every page of the shared arrays is mapped here (a read of one byte
    per page: the arrays may hold a user's gradient), so that no job waits on page faults."""
    ctrl = memoryview(ctrl_array)

    def map_pages() -> None:
        for a in (ids, uniq, positions, lengths, *grads):
            a.reshape(-1).view(np.uint8)[::mmap.PAGESIZE].sum()

    twin_session.serve(ctrl, session, parent, idle, cpu,
                       lambda k: _job(ctrl, k, ids, uniq, positions, lengths, grads), map_pages)


def _job(ctrl: memoryview, k: int, ids: np.ndarray, uniq: np.ndarray, positions: np.ndarray,
         lengths: np.ndarray, grads: tuple) -> None:
    """Job k: group its ids into the result arrays, raise GROUPED, fill the array it names."""
    n, fill = ctrl[COUNT], ctrl[FILL]  # read before GROUPED is raised: the caller may then post again
    part = ids[:n]
    low, high = int(part.min()), int(part.max())
    if low < 0 or high >= ctrl[ROWS]:
        ctrl[RANKS] = -1
    else:
        grouped = runs(part, high, ctrl[WIDTH])
        if grouped is None:
            ctrl[RANKS] = 0
        else:
            first, ranks = grouped
            uniq[:len(first)] = first
            start = 0
            for r, pos in enumerate(ranks):
                positions[start:start + len(pos)] = pos
                lengths[r] = len(pos)
                start += len(pos)
            ctrl[UNIQ], ctrl[RANKS] = len(first), len(ranks)
    ctrl[GROUPED] = k
    if fill >= 0:
        grads[fill].fill(0)
        ctrl[READY + fill] = k
