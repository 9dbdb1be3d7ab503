"""A small MLP (64-128-128-10, batch 64) while another process keeps one core busy: MiniTorch with
its default threads against the same with 1 BLAS thread (the harness starts the busy process)."""

from __future__ import annotations

from workloads._common import Step, minitorch_step

SMALL = (64, 128, 128, 10)
BASELINE = "mt-1thread"
BUSY_CORES = 1


def one_thread() -> Step:
    import minitorch as mt

    if hasattr(mt, "set_num_threads"):
        mt.set_num_threads(1)
    else:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    return minitorch_step(SMALL, 64)


WORKLOADS = {
    "mlp 64-128-128-10 sgd b64, 1 core busy": {
        "mt-default": lambda: minitorch_step(SMALL, 64),
        "mt-kernel": lambda: minitorch_step(SMALL, 64, kernel=True),
        "mt-1thread": one_thread,
    },
}
