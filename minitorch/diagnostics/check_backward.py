"""check_backward: a hand-written layer against a reference, tensor by tensor (output, dx, every grad)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minitorch.diagnostics.probe import SavedState
from minitorch.module import Module

TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-9), np.dtype(np.float32): (1e-4, 1e-5),
              np.dtype(np.float16): (1e-2, 1e-3)}  # (rtol, atol) for "close"


@dataclass
class TensorCheck:
    """One tensor: ``status`` is "exact", "close" (within tolerance) or "wrong"."""

    name: str  # "output", "dx", or the Parameter's name ("W")
    status: str
    max_diff: float
    where: tuple[int, ...] | None = None  # index of the largest difference when wrong
    mine: float | None = None  # the two values there
    reference: float | None = None

    def __str__(self) -> str:
        text = f"{self.name:<10} {self.status}"
        if self.status == "close":
            text += f" (max diff {self.max_diff:.3g})"
        elif self.status == "wrong":
            text += (f" (max diff {self.max_diff:.3g} at {self.where}: mine {self.mine:.6g}, "
                     f"reference {self.reference:.6g})")
        return text


@dataclass
class BackwardCheck:
    """Every compared tensor; ``ok`` when none is wrong; ``print(check)`` shows one line each."""

    checks: list[TensorCheck]

    @property
    def ok(self) -> bool:
        return all(check.status != "wrong" for check in self.checks)

    def __getitem__(self, name: str) -> TensorCheck:
        return next(check for check in self.checks if check.name == name)

    def __str__(self) -> str:
        return "\n".join(str(check) for check in self.checks)


def check_backward(
    module: Module, reference: Any, x: np.ndarray, dy: np.ndarray | None = None, seed: int = 0
) -> BackwardCheck:
    """Compare ``module``'s output, dx and every Parameter gradient with ``reference``'s on input x.

    ``reference``: a MiniTorch Module, or a ``torch.nn.Module`` (torch needed). Its Parameters get
    a copy of ``module``'s, matched by position: same shape, or transposed for a 2-D weight that
    only fits that way (and for ``torch.nn.Linear``'s weight, (out, in) = W.T). Both run in their
    present mode (train or eval); what a forward writes into buffers (BatchNorm's running
    statistics), ``module``'s gradients and the library's random generator are put back afterwards
    (``probe.SavedState``), and a torch reference's buffers too. dy, the upstream
    gradient, is N(0, 1) from ``np.random.default_rng(seed)`` unless given (never all ones, which
    hides transposition mistakes). Each tensor is "exact" (bit for bit), "close" (within the
    dtype's tolerance, ``TOLERANCES``: float32 rtol 1e-4, atol 1e-5) or "wrong", with the index of
    the largest difference and both values there; the tolerance is that of the less precise of
    the two dtypes (a float32 layer against a float64 reference is judged at float32's).
    Example:
        result = mt.check_backward(MyLinear(4, 3), mt.Linear(4, 3), np.random.randn(8, 4))
        print(result)        # output exact / dx close (max diff 2.4e-08) / W wrong (...)
    """
    if not isinstance(module, Module):
        raise TypeError(f"check_backward: expected a MiniTorch Module to check, got {type(module).__name__}")
    x = np.asarray(x)
    mine_params = list(module.named_parameters())
    saved = SavedState(module)
    try:
        for _, p in mine_params:
            p.grad = None
        out = module(x)
        if dy is None:
            dy = np.random.default_rng(seed).standard_normal(np.shape(out)).astype(np.asarray(out).dtype)
        dx = module.backward(dy)
        mine = {"output": out, "dx": dx, **{name: p.grad for name, p in mine_params}}
    finally:
        saved.restore()
    if isinstance(reference, Module):
        theirs = _minitorch_reference(reference, mine_params, x, dy)
    else:
        theirs = _torch_reference(reference, mine_params, x, dy)
    checks = [_compare(name, mine[name], theirs[name]) for name in mine]
    return BackwardCheck(checks)


def _minitorch_reference(
    reference: Module, mine: list[tuple[str, Any]], x: np.ndarray, dy: np.ndarray
) -> dict[str, Any]:
    theirs = list(reference.parameters())
    _check_count(len(mine), len(theirs))
    saved = [(p, p.data, p.grad) for p in theirs]
    buffers = SavedState(reference)
    try:
        layout = []
        for (name, p), q in zip(mine, theirs, strict=True):
            transposed = _layout(name, p.data.shape, q.data.shape, False)
            layout.append(transposed)
            q.data = np.array(p.data.T if transposed else p.data, dtype=q.data.dtype)
            q.grad = None
        out = reference(x)
        dx = reference.backward(dy)
        grads = {name: None if q.grad is None else (q.grad.T if t else q.grad)
                 for (name, _), q, t in zip(mine, theirs, layout, strict=True)}
        return {"output": out, "dx": dx, **grads}
    finally:
        for q, data, grad in saved:
            q.data = data
            q._restore_grad(grad)
        buffers.restore()


def _torch_reference(
    reference: Any, mine: list[tuple[str, Any]], x: np.ndarray, dy: np.ndarray
) -> dict[str, Any]:
    try:
        import torch
    except ImportError as err:
        raise TypeError(
            "check_backward: the reference is not a MiniTorch Module, and torch (needed for a "
            "torch.nn.Module reference) is not installed"
        ) from err
    if not isinstance(reference, torch.nn.Module):
        raise TypeError(
            f"check_backward: expected a Module or torch.nn.Module reference, got {type(reference).__name__}"
        )
    owners = {id(p): m for m in reference.modules() for p in m.parameters(recurse=False)}
    theirs = list(reference.parameters())
    _check_count(len(mine), len(theirs))
    layout = []
    with torch.no_grad():
        for (name, p), q in zip(mine, theirs, strict=True):
            linear = isinstance(owners.get(id(q)), torch.nn.Linear) and q.dim() == 2
            transposed = _layout(name, p.data.shape, tuple(q.shape), linear)
            layout.append(transposed)
            q.copy_(torch.from_numpy(np.ascontiguousarray(p.data.T if transposed else p.data)).to(q.dtype))
            q.grad = None
    floating = x.dtype.kind == "f"
    xt = torch.tensor(x)
    if floating and theirs:  # the reference computes in its own dtype (a float64 oracle, say)
        xt = xt.to(theirs[0].dtype)
    xt.requires_grad_(floating)
    buffers = [(b, b.detach().clone()) for b in reference.buffers()]
    try:
        out = reference(xt)
        out.backward(torch.tensor(dy, dtype=out.dtype))
    finally:
        with torch.no_grad():
            for b, value in buffers:
                b.copy_(value)
    grads = {name: None if q.grad is None else (q.grad.numpy().T if t else q.grad.numpy())
             for (name, _), q, t in zip(mine, theirs, layout, strict=True)}
    return {"output": out.detach().numpy(), "dx": None if xt.grad is None else xt.grad.numpy(), **grads}


def _tolerance(mine: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """(rtol, atol) of the less precise floating dtype of the two (float32's for non-floats)."""
    floats = [a.dtype for a in (mine, theirs) if a.dtype in TOLERANCES]
    if not floats:
        return TOLERANCES[np.dtype(np.float32)]
    return TOLERANCES[max(floats, key=lambda dtype: np.finfo(dtype).eps)]


def _check_count(mine: int, theirs: int) -> None:
    if mine != theirs:
        raise ValueError(
            f"check_backward: the module has {mine} Parameters but the reference has {theirs}; "
            "they are matched by position"
        )


def _layout(name: str, mine: tuple[int, ...], theirs: tuple[int, ...], prefer_transposed: bool) -> bool:
    """True if the reference stores this Parameter transposed; ValueError if neither way fits."""
    transposed_fits = len(mine) == 2 and tuple(reversed(mine)) == tuple(theirs)
    if transposed_fits and (prefer_transposed or tuple(mine) != tuple(theirs)):
        return True
    if tuple(mine) == tuple(theirs):
        return False
    raise ValueError(
        f"check_backward: Parameter {name!r} has shape {tuple(mine)}, but the reference's Parameter "
        f"at the same position has shape {tuple(theirs)}"
    )


def _compare(name: str, mine: Any, theirs: Any) -> TensorCheck:
    if mine is None or theirs is None:
        status = "exact" if mine is None and theirs is None else "wrong"
        return TensorCheck(name, status, 0.0 if status == "exact" else float("inf"))
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if mine.shape != theirs.shape:
        return TensorCheck(name, "wrong", float("inf"), where=None)
    if np.array_equal(mine, theirs):
        return TensorCheck(name, "exact", 0.0)
    rtol, atol = _tolerance(mine, theirs)
    with np.errstate(all="ignore"):
        diff = np.abs(mine.astype(np.float64) - theirs.astype(np.float64))
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    max_diff = float(diff[worst]) if diff.size else 0.0
    if np.allclose(mine, theirs, rtol=rtol, atol=atol):
        return TensorCheck(name, "close", max_diff)
    where = tuple(int(i) for i in worst)
    return TensorCheck(name, "wrong", max_diff, where, float(mine[where]), float(theirs[where]))
