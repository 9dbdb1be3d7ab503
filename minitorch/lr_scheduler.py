"""Learning-rate schedules: the same sequences as torch.optim.lr_scheduler.

A scheduler acts through ``optimizer.param_groups[i]["lr"]``. Creating one records each group's
``initial_lr`` (the ``base_lrs``) and sets the lr for epoch 0; each ``step()`` (after the epoch's
``optimizer.step()``) advances ``last_epoch`` by one and writes the next lr into every group.
Like torch's, the update is chainable (recursive): it scales the group's *current* lr, so the
values equal torch's ``get_last_lr()`` to the last bit (the closed forms in the docstrings agree up
to rounding). ``ReduceLROnPlateau`` instead watches a metric: ``step(metric)``. As torch's,
``last_epoch=k`` at creation resumes a run, and the deprecated ``step(epoch)`` (with torch's warning)
jumps to an epoch through the closed form where there is one.
A group's lr may be a 0-d float64 array (``lr=np.array(0.1)``, torch's tensor lr): the schedulers
write into it in place, as torch fills the tensor, with the same values bit for bit. A scheduler's
own number settings (``max_lr``, ``min_lr``, ``gamma``, ``eta_min``, ``factor``, ``pct_start``...)
follow the optimizers' rule (``optimizer.check_value``): numbers or 0-d float64 arrays, read and kept
as their floats (torch's schedule with a 0-d float64 tensor setting is its float one, bit for bit).

Example:
    opt = mt.SGD(model.parameters(), lr=0.1)
    sched = mt.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()
"""

from minitorch.lr_schedulers_core import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
)
from minitorch.lr_schedulers_extra import (
    ChainedScheduler,
    ConstantLR,
    CyclicLR,
    MultiplicativeLR,
    PolynomialLR,
)
from minitorch.lr_schedulers_more import (
    CosineAnnealingWarmRestarts,
    LambdaLR,
    OneCycleLR,
    SequentialLR,
)

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CyclicLR",
    "MultiplicativeLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
