"""A whole training step in one loop: a small Linear/ReLU ``Sequential``, ``CrossEntropyLoss``, plain SGD.

``mt.fit`` trains a batch with five calls (``_Trainer._step``):

    output = model(x);  loss = loss_fn(output, y);  model.backward_params(loss_fn.backward())
    optimizer.step();  optimizer.zero_grad()

For a small model each passes through wrappers, frames and checks that cost more than its
arithmetic. ``fit_step`` makes the same NumPy calls on the same arrays in one function, for the one
case it is written for, and returns ``NotImplemented`` (nothing done: the five calls run) for
anything else. Its case, all checked before anything changes:

- ``model``: exactly ``Sequential`` of exact ``Linear`` and ``ReLU`` layers, the first a Linear,
  each weight under ``containers.SMALL_WEIGHT_BYTES``, each Linear's ``in_features`` and
  ``out_features`` its weight's shape, no layer twice, no method patched on a class or an instance
  (``mt.Diagnostics`` patches the model's own), no forward call waiting for its backward and none
  running, no cache attribute set (a chain forward that raised leaves its Linear's x), no edit's
  refusal pending (``Sequential._edited``: the model's own forward clears it), no recording parent,
  gradients enabled; x an ndarray (N, in) of the weights' dtype.
- ``loss_fn``: exactly ``CrossEntropyLoss`` in the cross-entropy kernel's case
  (``losses.cross_entropy_forward``: class indices, no weight, no smoothing, nothing ignored,
  finite logits, every target in range), reduction "mean" or "sum", nothing waiting; the loss
  comes out finite.
- ``optimizer``: exactly ``SGD``, one parameter group holding exactly the model's Parameters in
  order, momentum 0, weight decay 0, every setting one ``SGD.step`` converts (``float``, ``bool``:
  one they refuse raises there, after the backward), no state, ``step``, ``zero_grad`` and the
  methods they call not patched on the class or the instance (the waiting-forward check, an
  instance's own too, runs here as well), each Parameter trainable and without gradient, the
  group's data and gradient slots a flat group of ``kernels/flat.py`` (from the second step on:
  the first step's update adopts them), no forward waiting in another owner of the Parameters.

In that case the five calls would run, bitwise, what is run here: the chain kernel's forward
(``containers.sequential_forward``: y = x @ W, y += b; y = max(0, y), mask = (y != 0) in y's dtype),
the cross-entropy kernel's forward and backward (``losses.cross_entropy_forward`` /
``cross_entropy_backward``: p - onehot(y), times dl = 1/N or 1; its arithmetic is the very
function that kernel calls, ``losses._ce_arithmetic``), the chain kernel's
``backward_params`` (W.grad = x.T @ dy and b.grad = dy.sum(0) into their flat slots, dy = dy @ W.T,
dy = dy * mask; the mask is made here at the backward as sign(y) of the ReLU's output y: the
same numbers), the flat
update (``flat.update``: P -= a * G, a = lr, or -lr under ``maximize``: the plain
p - lr * (-g) in the same bits) with the thread policy as the SGD kernel applies it, then
every grad None. What they leave is what is left here: the Parameters
updated, every gradient None, no frame waiting and every cache attribute None (as before the
step), the returned output and loss. The Parameters change in the last statement only, so an
interrupt (a second Ctrl-C) leaves the step either not begun or done. The same NumPy operations
raise the same floating-point errors (``np.errstate``), at the same operation, leaving what the
five calls leave there (``_left_by_the_calls``: the gradients written so far, the calls waiting),
and the same warnings (hence ``x @ W`` and not ``np.dot``: it reports the same
conditions, but as "... encountered in dot" where the layer's say "in matmul"). Every check that
can decline runs before any arithmetic, but two: logits or a loss that come out not finite (a
diverged run, which fit then stops) decline after the forward, and the five calls run that
forward again, so its warnings (overflow) come twice.
What the case test finds out about the three objects' structure (the children, their Parameters
and flat views, the optimizer's one group of exactly those, the flat group) is kept for the last
model stepped (``_Setup``; dropped when that model, loss or optimizer is collected, or once its
flat group is forgotten and no other is found) and, at the next step, checked by identity instead
of found again. What can change while those identities stay is checked too, in three ways:
- what lives in the objects' dicts (frames, caches, instance patches, ``_edited``, each Linear's
  W, b, ``in_features`` and ``out_features``, the optimizer's one group: the model's, the loss's,
  the optimizer's, the children's and the model's ``_modules``) is checked once, and the dicts
  copied (``_checked``); at each step after,
  one comparison of the dicts with their copies (``_Setup.current``) stands for those checks
  while they compare equal (values by ``==`` after identity: Modules and Parameters define no
  ``==``, a waiting list is copied, the numbers checked are ints, which cannot change in place);
- a forward waiting in another owner of a Parameter is looked for only after a registration
  (``module._registrations``) or while such an owner exists;
- the rest at every step: the three objects' classes and the children's, the class and module
  patches, the optimizer's state and settings (a dict of its own), the loss's options, what each
  Parameter holds (its class, ``data`` still its flat view, ``grad``, ``requires_grad``), each
  data view's shape, dtype and writable flag (all can be set in place; a read-only view: the
  step raises in ``SGD.step``), the reference counts of the gradient
  slots (as one sum), x and y.
Saves: per step about 40 Python calls (the modules' and wrappers' calls, each frame's pushes and
pops, the optimizer's and loss's wrappers and checks, the gradient assignments) and one NumPy
reduction (a short target list's range is read as Python ints); the NumPy arithmetic is the five
calls' own. tests/test_kernels.py checks the result against the five calls, kernels on and off.
"""

from __future__ import annotations

import math
import weakref
from operator import attrgetter
from typing import Any

import numpy as np

from minitorch import call_frames, threads
from minitorch.grad_mode import _state as _grad_state
from minitorch.kernels import containers, flat
from minitorch.kernels import relu as relu_kernel
from minitorch.kernels.losses import (
    _CE_PLANS,
    _UNSIGNED,
    _ce_arithmetic,
    _ce_plan,
    _range_by_unsigned,
    shift_in_range,
)
from minitorch.kernels.relu import zero_of
from minitorch.module import _registrations

# The classes of the case, each named by its own module at import (``register_step_class``: the
# fast room imports no container, loss or optimizer); then, once the last is named, those classes
# and the methods and kernels the five calls run as defined: one patched since (a probe, a hook, a
# test's counter) declines the step, so that it runs.
_named: dict[str, Any] = {}
_classes: list[Any] = []
# Up to this many targets, their range is checked on a list of Python ints (a NumPy reduction
# costs more to set up than a short list costs to read); more, by the loss kernel's reduction.
SHORT_TARGETS = 64
_originals: list[tuple[Any, attrgetter, Any]] = []
_layers_watched: list[bool] = []  # Linear's and ReLU's methods are in _originals (_watch_layers)
_CASE = ("Sequential", "CrossEntropyLoss", "SGD", "LossValue")


def register_step_class(cls: type) -> None:
    """Name one class of ``fit_step``'s case (Sequential, CrossEntropyLoss, SGD, LossValue); each
    one's module calls this once it is defined. The last one named loads the originals (``_load``):
    what the library defines, so that a probe patched before the first step is seen too."""
    _named[cls.__name__] = cls
    if not _classes:
        _load()


def _load() -> bool:
    """Fill ``_classes`` and ``_originals`` once every class of the case is named (at the import of
    the last one, ``register_step_class``; else at the first call); False until then."""
    if any(name not in _named for name in _CASE):
        return False
    from minitorch.kernels import losses
    from minitorch.kernels import optimizers as optimizer_kernels
    from minitorch.parameter import Parameter

    Sequential, CrossEntropyLoss, SGD, LossValue = (_named[name] for name in _CASE)
    _classes[:] = [Sequential, CrossEntropyLoss, SGD, Parameter, LossValue]
    # (Module.__call__ through Sequential: one patched on either is seen)
    watched = [(Sequential, ("__call__", "forward", "backward_params")),
               (CrossEntropyLoss, ("__call__", "forward", "backward")),
               (SGD, ("step", "zero_grad", "_check_no_waiting_forward", "_check_writable",
                      "_match_state_dtypes", "_params_with_grad")),
               (Parameter, ("zero_grad",)), (containers, ("sequential_forward", "sequential_backward")),
               (losses, ("cross_entropy_forward", "cross_entropy_backward")),
               (optimizer_kernels, ("sgd",)), (flat, ("update", "apply"))]
    _originals[:] = take_originals(watched)
    _layers_watched.clear()
    _watch_layers()
    return True


def take_originals(watched: list[tuple[Any, tuple[str, ...]]]) -> list[tuple[Any, attrgetter, Any]]:
    """Per (owner, names): a getter of those attributes and what it gives now (a step kernel's
    methods and kernels as the library defines them; also ``step_large`` and ``step_update``)."""
    return [(owner, getter, getter(owner))
            for owner, getter in ((owner, attrgetter(*names)) for owner, names in watched)]


def unchanged(originals: list[tuple[Any, attrgetter, Any]]) -> bool:
    """Every attribute ``take_originals`` read is still what it read (functions compare by
    identity): no method or kernel patched since."""
    for owner, getter, seen in originals:
        if getter(owner) != seen:
            return False
    return True


def _untouched() -> bool:
    """Every method and kernel the five calls run is still the one first seen (Linear's and
    ReLU's as the chain kernel first saw them: ``_watch_layers``)."""
    for owner, getter, seen in _originals:
        if getter(owner) != seen:
            return False
    return True


def _watch_layers() -> None:
    """Add Linear's and ReLU's methods to ``_originals`` once the layers package has named them
    (``containers.register_chain_layers``), as the chain kernel saw them then."""
    if _layers_watched or containers.Linear is None:
        return
    names, own = containers._METHODS, containers._own
    _originals.extend((cls, attrgetter(*names), tuple(own[f"{cls.__name__}.{name}"] for name in names))
                      for cls in (containers.Linear, containers.ReLU))
    _layers_watched.append(True)


class _Setup:
    """What the case test found for one (model, loss_fn, optimizer), kept for the steps after:
    the children, each Linear's Parameters and their flat views, the optimizer's group and the flat
    group. ``still`` tells whether it still describes the three (by identity: the same children,
    Parameters, group and flat group); ``current`` tells it too, and that the watched dicts are
    as ``_checked`` last found them in the case (see the module docstring for what else is
    checked, and when)."""

    __slots__ = ("refs", "modules", "children", "dicts", "layers", "params", "group", "flat", "width",
                 "dtype", "relu_bytes", "scale", "md", "ld", "od", "watched", "seen", "registrations",
                 "params_seen", "types", "zero", "classes", "targets", "plans")

    def __init__(self, model: Any, loss_fn: Any, optimizer: Any, children: list[Any], params: list[Any],
                 group: dict[str, Any], flat_group: Any, x: np.ndarray) -> None:
        # (the setup holds the children, Parameters, the optimizer's group and the flat group: it
        # is dropped when any of the three is collected)
        self.refs = (weakref.ref(model, _drop), weakref.ref(loss_fn, _drop), weakref.ref(optimizer, _drop))
        self.modules, self.children = model.__dict__["_modules"], children
        self.dicts = [m.__dict__ for m in children]
        self.params, self.group, self.flat = params, group, flat_group
        self.width, self.dtype = x.shape[1], x.dtype
        # per child, for the per-step checks and the arithmetic: (True, the Linear, its dict, W, b,
        # W's index in params, W's shape, in_features) or (False, the ReLU, its dict, None, ...)
        self.layers: list[tuple[Any, ...]] = []
        k, width, widest = 0, self.width, 0
        for m, d in zip(children, self.dicts, strict=True):
            if type(m) is containers.Linear:
                W, b = d["W"], d["b"]
                self.layers.append((True, m, d, W, b, k, W.data.shape, m.in_features))
                k += 1 if b is None else 2
                width = W.data.shape[1]
            else:
                self.layers.append((False, m, d, None, None, None, None, None))
                widest = max(widest, width)
        self.relu_bytes = widest * self.dtype.itemsize  # per row of x: the widest ReLU input
        self.zero = zero_of(self.dtype)
        self.scale: dict[tuple[int, bool], np.ndarray] = {}  # (N, mean) -> dl = 1/N or 1, 0-d
        self.md, self.ld, self.od = model.__dict__, loss_fn.__dict__, optimizer.__dict__
        # the dicts _checked checks and copies: the model's, the loss's, the optimizer's, the children
        # by name, each child's
        self.watched = [self.md, self.ld, self.od, self.modules, *self.dicts]
        self.seen: list[dict[str, Any]] | None = None  # their copies, as _checked found them in the case
        self.registrations = -1  # the owner registrations last seen, if every owner is a child; else -1
        # per Parameter: its class, data (its flat view), grad, requires_grad, data's shape, dtype
        # and writable flag (a read-only view: step() raises, though the flat buffer is writable)
        self.params_seen = [(_classes[3], v, None, True, v.shape, self.dtype, True) for v in flat_group.data]
        self.types = [type(m) for m in children]
        c = flat_group.data[-1].shape[-1]  # the last Linear's width (its W or b), the classes
        self.classes = frozenset(range(c))
        self.targets: dict[np.dtype, Any] = {}  # a target dtype the case takes -> its unsigned twin or None
        self.plans: dict[tuple[int, np.dtype], tuple[Any, ...]] = {}  # (N, target dtype) -> loss plan

    def copies(self) -> list[dict[str, Any]]:
        """Copies of the watched dicts, each list in them a list of its own (so that a waiting list
        filled since compares unequal)."""
        return [{k: (list(v) if type(v) is list else v) for k, v in d.items()} for d in self.watched]

    def note_owners(self, optimizer: Any) -> None:
        """After ``optimizer._check_no_waiting_forward()``: the registrations it saw if every
        module owning one of the Parameters is one of the children, else -1."""
        registrations, owners = optimizer._owner_cache
        ours = {id(m) for m in self.children}
        mine = registrations == _registrations[0] and all(id(m) in ours for m in owners)
        self.registrations = registrations if mine else -1

    def current(self, model: Any, loss_fn: Any, optimizer: Any) -> bool:
        """``still`` in its cheap form, and the watched dicts as ``_checked`` found them: the same
        three objects and optimizer group, the watched dicts still the three objects' and equal
        to their copies (values compare by ``==`` after identity: Modules and Parameters by
        identity, a waiting list by its contents; a comparison that raises, as an array where None
        was: not equal). The children are in the copy of the model's ``_modules``."""
        m, lf, op = self.refs
        if m() is not model or lf() is not loss_fn or op() is not optimizer:
            return False
        if (model.__dict__ is not self.md or loss_fn.__dict__ is not self.ld
                or optimizer.__dict__ is not self.od or self.group["params"] != self.params
                or not self.flat.g_refs):  # (a flat group forgotten: see still)
            return False
        try:  # (the optimizer's one group is in the copy of its param_groups)
            return self.watched == self.seen
        except Exception:
            return False

    def still(self, model: Any, loss_fn: Any, optimizer: Any) -> bool:
        """The same three objects, children, optimizer group and Parameters in it."""
        m, lf, op = self.refs
        if m() is not model or lf() is not loss_fn or op() is not optimizer:
            return False
        modules = self.modules
        if (model.__dict__ is not self.md or loss_fn.__dict__ is not self.ld
                or optimizer.__dict__ is not self.od):
            return False
        if model.__dict__["_modules"] is not modules or list(modules.values()) != self.children:
            return False  # (Modules compare by identity)
        groups = optimizer.param_groups
        # (Parameters compare by identity. A Linear's W or b replaced while the group still holds
        # the old ones is outside the case, declined at the step. A flat group forgotten
        # (flat._forget: g_refs 0), as when a Parameter's data were replaced, makes the setup be
        # found again: the SGD kernel adopts the Parameters into a new group.)
        return (len(groups) == 1 and groups[0] is self.group and self.group["params"] == self.params
                and self.flat.g_refs != 0)


_last: list[_Setup | None] = [None]  # the setup of the last step taken (one model trained at a time)


def _drop(ref: Any) -> None:
    """The setup of a collected model, loss or optimizer goes (it holds the model's children and
    Parameters, the optimizer's group, the flat group)."""
    setup = _last[0]
    if setup is not None and any(r is ref for r in setup.refs):
        _last[0] = None


def fit_step(model: Any, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Any:
    """``_Trainer._step``'s five calls (see the module docstring), or ``NotImplemented`` with
    nothing done. Returns (output, loss): the model's output (a new array) and the loss as
    ``loss_fn`` returns it (a ``LossValue``)."""
    if not _classes and not _load():
        return NotImplemented
    Sequential, CrossEntropyLoss, SGD, _, LossValue = _classes
    if (type(model) is not Sequential or type(loss_fn) is not CrossEntropyLoss or type(optimizer) is not SGD
            or type(x) is not np.ndarray or x.ndim != 2 or type(y) is not np.ndarray
            or call_frames._recorders or not _grad_state.enabled or containers.Linear is None):
        return NotImplemented
    setup = _last[0]
    if setup is None or not setup.current(model, loss_fn, optimizer):
        setup = _checked(model, loss_fn, optimizer, x)
        if setup is None:
            return NotImplemented
    # every step: what the watched dicts do not hold (their copies stand for the rest: _checked)
    group, params, views = setup.group, setup.params, setup.flat.data
    reduction = loss_fn.reduction
    if (x.shape[1] != setup.width or x.dtype != setup.dtype or not _untouched() or optimizer.state
            or reduction not in ("mean", "sum") or loss_fn.weight is not None or loss_fn.label_smoothing
            or loss_fn.ignore_index >= 0 or len(x) * setup.relu_bytes >= containers.SMALL_WEIGHT_BYTES
            or list(map(type, setup.children)) != setup.types):
        return NotImplemented
    try:  # what SGD.step converts, in its order: a setting it refuses raises there (after the backward)
        momentum, lr, _, weight_decay, _, maximize = (float(group["momentum"]), float(group["lr"]),
                                                      float(group["dampening"]), float(group["weight_decay"]),
                                                      bool(group["nesterov"]), bool(group["maximize"]))
        # each Parameter exactly a Parameter, its data still its flat view, trainable, without
        # gradient, the view's shape, dtype and writable flag (which can be set in place) as found
        if momentum or weight_decay or list(map(_parameter_state, params)) != setup.params_seen:
            return NotImplemented
    except Exception:
        return NotImplemented
    slots = flat.slots_if_free(setup.flat)
    if slots is None:
        return NotImplemented
    if _registrations[0] != setup.registrations:  # an owner of a Parameter outside the children
        try:
            optimizer._check_no_waiting_forward()  # another owner of a Parameter has a forward waiting
        except RuntimeError:
            return NotImplemented
        setup.note_owners(optimizer)
    # the targets: what the loss kernel's plan and range check take (before any work, so that a
    # step declined for its targets has computed nothing)
    yt, n = y.dtype, len(x)
    if not (y.ndim == 1 and len(y) == n != 0):
        return NotImplemented
    unsigned = setup.targets.get(yt, False)
    if unsigned is False:
        unsigned = _target_type(yt, len(setup.classes))
        if unsigned is False:
            return NotImplemented  # (the loss kernel's plan refuses these)
        setup.targets[yt] = unsigned
    if n <= SHORT_TARGETS:  # every y in [0, C), read as Python ints
        outside = not setup.classes.issuperset(y.tolist())
    else:  # as the kernel's unsigned maximum tells
        outside = np.maximum.reduce(y if unsigned is None else y.view(unsigned)) >= len(setup.classes)
    if outside:
        return NotImplemented
    # forward: containers.sequential_forward's formulas. (Where a NumPy operation raises, under
    # np.errstate, what the five calls leave there is left: _left_by_the_calls.)
    kept: list[Any] = []  # per child done: the input a Linear read, the output a ReLU gave
    try:
        h = x
        zero = setup.zero
        for is_linear, _, _, _, b, k, _, _ in setup.layers:
            if is_linear:
                read = h
                h = h @ views[k]
                if b is not None:
                    h += views[k + 1]
                kept.append(read)
            else:
                h = np.maximum(zero, h) if h.size < relu_kernel.ROW_ZERO_FROM else relu_kernel.relu(h)
                kept.append(h)
        # loss forward and backward: losses.cross_entropy_forward / cross_entropy_backward
        z = h
        plan = setup.plans.get((n, yt))  # (z: a fresh (N, C) product of the weights' dtype)
        if plan is None:
            plan = _CE_PLANS.get((z.shape, z.strides, z.dtype, y.shape, yt)) or _ce_plan(z, y)
            if plan is None:
                return NotImplemented
            if len(setup.plans) > 16:
                setup.plans.clear()
            setup.plans[(n, yt)] = plan
        if not (np.abs(z).ravel().dot(plan[2]) < plan[8] or shift_in_range(z)):  # (losses._ce_plan)
            return NotImplemented  # the plain code raises (this forward's warnings come twice: see above)
        losses, dy = _ce_arithmetic(z, y, plan)  # (z is a fresh product: C-contiguous)
        total = np.add.reduce(losses, None)
        mean = reduction == "mean"
        loss = total / n if mean else total
        if not math.isfinite(loss):
            return NotImplemented  # fit stops, or goes on, on the plain path
        dl = setup.scale.get((n, mean))
        if dl is None:
            dl = setup.scale[(n, mean)] = np.array(1.0 / n if mean else 1.0, setup.dtype)
    except Exception:
        _left_by_the_calls(setup, loss_fn, kept, len(kept), len(setup.layers), 0, slots, None)
        raise
    try:
        dy *= dl
    except Exception:
        _left_by_the_calls(setup, loss_fn, kept, len(kept), len(setup.layers), 0, slots, dy)
        raise
    # backward_params: containers.sequential_backward's formulas, the gradients into their flat
    # slots (every Parameter's grad is None and its slot free: flat.slots_if_free)
    layers = setup.layers
    i = len(layers) - 1
    failed = 0  # (where child i's backward raised: 1 its W's product, 2 its b's sum, 0 after them)
    try:
        while i >= 0:
            is_linear, _, _, _, b, k, _, _ = layers[i]
            if is_linear:
                try:
                    np.matmul(kept[i].T, dy, slots[k])
                except Exception:
                    failed = 1
                    raise
                if b is not None:
                    try:
                        np.add.reduce(dy, 0, None, slots[k + 1])
                    except Exception:
                        failed = 2
                        raise
                if i:  # the first child is a Linear (_chain_params): no dx below it
                    dy = dy @ views[k].T
            else:
                # dy = dy * mask, mask = (y != 0) in y's dtype, made from the ReLU's output
                # y = max(0, .) as sign(y): y is >= 0 or a zero of either sign, whose sign is
                # +0.0, so the same 0.0 and 1.0 wherever y is not NaN, and a NaN y never gets
                # here (every logit of its row is NaN after it: the step declined). sign raises
                # no floating-point error, as != raises none. (A float mask in one call: the
                # product by a bool mask is NumPy's slower mixed-type call.)
                dy *= np.sign(kept[i])
            i -= 1
        # the update: the SGD kernel's flat path (its step -lr under maximize), then the thread
        # policy where it is not in force
        flat.apply(setup.flat, -lr if maximize else lr)
    except Exception:
        _left_by_the_calls(setup, loss_fn, kept, max(i, 0), i, failed, slots, None)
        raise
    if not threads.one_thread_in_force():
        threads.apply_policy_for(params)
    return z, LossValue(loss)


def _left_by_the_calls(setup: _Setup, loss_fn: Any, kept: list[Any], waiting: int, at: int, failed: int,
                       slots: list[np.ndarray], dlogits: Any) -> None:
    """What the five calls leave where one of their NumPy operations raised (``np.errstate``
    "raise", or a handler that raises), for ``fit_step`` stopped at the same operation: the first
    ``waiting`` children wait with their frames and caches as ``containers.sequential_forward``
    leaves them (a ReLU's mask in x's dtype); ``dlogits`` (the loss's backward raised) the loss's
    call waits too, that array its frame's ``_dlogits``; ``at`` the child whose backward raised
    (``failed``: 1 at its W's product, 2 at its b's sum, 0 after them; -1 the update, past every
    child; the number of children before the backward): that child's call waits too, its frame
    put back unshown, and the gradients the calls had written by then are the Parameters'."""
    layers, params = setup.layers, setup.params
    for j in range(max(at, 0), len(layers)):
        is_linear, _, _, _, b, k, _, _ = layers[j]
        if is_linear:
            done = failed - 1 if j == at and failed else 1 if b is None else 2
            for m in range(done):
                params[k + m].grad = slots[k + m]
    for j, (is_linear, _, d, *_) in enumerate(layers[:waiting]):
        name = "_x" if is_linear else "_mask"
        value = kept[j] if is_linear else (kept[j] != setup.zero).astype(setup.dtype)
        frame = {name: value}
        d[name] = value
        d["_stack"].append(frame)
        d["_shown"] = frame
    if 0 <= at < len(layers):  # its frame put back, as its backward wrapper puts it (not shown)
        is_linear, _, d, *_ = layers[at]
        d["_stack"].append({"_x": kept[at]} if is_linear
                           else {"_mask": (kept[at] != setup.zero).astype(setup.dtype)})
    if dlogits is not None:
        loss_fn.__dict__["_stack"].append({"_dlogits": dlogits, "_loss_shape": (len(dlogits),),
                                           "_reduction": loss_fn.reduction})


_INTEGERS = (int, np.integer)
# what fit_step reads of each Parameter, as _Setup.params_seen has it when the case holds
_parameter_state = attrgetter("__class__", "data", "grad", "requires_grad", "data.shape", "data.dtype",
                              "data.flags.writeable")


def _target_type(yt: np.dtype, c: int) -> Any:
    """For targets of dtype ``yt`` and ``c`` classes: False if the loss kernel's plan refuses
    them, else the unsigned dtype its range check reads them as (None: ``yt`` is unsigned)."""
    if not (yt.kind in "iu" and yt.isnative):
        return False
    unsigned = None if yt.kind == "u" else _UNSIGNED.get(yt)
    if (yt.kind == "i" and unsigned is None) or not _range_by_unsigned(yt, c):
        return False
    return unsigned


def _checked(model: Any, loss_fn: Any, optimizer: Any, x: np.ndarray) -> _Setup | None:
    """The setup of the three (the one kept if it still describes them, else found again) once
    what the watched dicts hold is in the case (no method patched on an instance, no frame
    waiting or running, no cache set, no edit's refusal pending, each Linear's W, b,
    ``in_features`` and ``out_features`` as found, as ints; the optimizer's one group is in its
    ``param_groups``, copied too) and no forward waits in an owner of a Parameter; its ``seen``
    then holds the dicts' copies, taken before the checks of what they hold. None outside the
    case."""
    setup = _last[0]
    if setup is None or not setup.still(model, loss_fn, optimizer):
        setup = _find_setup(model, loss_fn, optimizer, x)
        if setup is None:
            if _last[0] is not None and not _last[0].flat.g_refs:
                # (a forgotten group's setup lets go of its views: the update can adopt them again)
                _last[0] = None
            return None
        _last[0] = setup
    seen = setup.copies()  # (before the checks: a change made while they run is not in the copies)
    md, ld, od = setup.md, setup.ld, setup.od
    if ("forward" in md or "backward_params" in md or md.get("_edited") is not None
            or "forward" in ld or "backward" in ld or ld["_stack"] or ld["_shown"] is not None
            or ld["_frame"] is not None or ld["_busy"]
            or "step" in od or "zero_grad" in od or "_params_with_grad" in od or "_match_state_dtypes" in od
            or "_check_no_waiting_forward" in od or "_check_writable" in od):
        return None
    for is_linear, _, d, W, b, _, shape, in_features in setup.layers:
        if (d["_stack"] or d["_shown"] is not None or d["_frame"] is not None or d["_busy"]
                or "forward" in d or "backward" in d or "backward_params" in d or "backward_input" in d
                or d.get("_x" if is_linear else "_mask") is not None):  # (the five calls set it None)
            return None
        if is_linear and (d["W"] is not W or d["b"] is not b or d["in_features"] != in_features
                          or d["out_features"] != shape[1]
                          # (numbers that cannot change in place: the copy compares them by value)
                          or not isinstance(d["in_features"], _INTEGERS)
                          or not isinstance(d["out_features"], _INTEGERS)):
            return None
    try:  # (it notes the owners in the optimizer's dict when registrations changed: then the next
        # step finds the dict changed and checks once more)
        optimizer._check_no_waiting_forward()  # another owner of a Parameter has a forward waiting
    except RuntimeError:
        return None
    setup.note_owners(optimizer)
    setup.seen = seen  # (a dict changed since the copies compares unequal at the next step)
    return setup


def _find_setup(model: Any, loss_fn: Any, optimizer: Any, x: np.ndarray) -> _Setup | None:
    """The setup of the three if they are ``fit_step``'s case as far as their structure goes (the
    children, their Parameters, the optimizer's one group of exactly those, the flat group), else
    None."""
    _watch_layers()
    # a large model declines first, before the checks below: one look at the first layer's weight
    first = next(iter(model.__dict__["_modules"].values()), None)
    weight = first.__dict__.get("W") if type(first) is containers.Linear else None
    if weight is None or getattr(weight.data, "nbytes", 0) >= containers.SMALL_WEIGHT_BYTES:
        return None
    children = list(model.__dict__["_modules"].values())
    params = _chain_params(children, x)
    if params is None:
        return None
    groups = optimizer.param_groups
    if len(groups) != 1 or list(map(id, groups[0]["params"])) != list(map(id, params)):
        return None
    if flat.free_slots(params) is None:  # (a whole flat group, in order, its slots free)
        return None
    return _Setup(model, loss_fn, optimizer, children, params, groups[0], flat.group_holding(params[0]), x)


def _chain_params(children: list[Any], x: np.ndarray) -> list[Any] | None:
    """The chain's Parameters in ``parameters()`` order (W before b, layer by layer) if the
    children are the case of ``fit_step`` for input ``x``, else None."""
    Linear, ReLU, Parameter = containers.Linear, containers.ReLU, _classes[3]
    if not children or type(children[0]) is not Linear:
        return None
    params: list[Any] = []
    width, dtype = x.shape[1], x.dtype
    for m in children:
        kind, d = type(m), m.__dict__
        if ((kind is not Linear and kind is not ReLU) or d["_stack"] or d["_shown"] is not None
                or d["_frame"] is not None or d["_busy"] or "forward" in d or "backward" in d
                or "backward_params" in d or "backward_input" in d
                or d.get("_x" if kind is Linear else "_mask") is not None):
            return None
        if kind is Linear:
            W, b = d["W"], d["b"]
            w = W.data
            if (type(W) is not Parameter or w.dtype != dtype or w.ndim != 2 or w.shape[0] != width
                    or m.in_features != width or m.out_features != w.shape[1]
                    or w.nbytes >= containers.SMALL_WEIGHT_BYTES
                    or not W.requires_grad or W.grad is not None):
                return None
            params.append(W)
            width = w.shape[1]
            if b is not None:
                if (type(b) is not Parameter or b.data.dtype != dtype or b.data.shape != (width,)
                        or not b.requires_grad or b.grad is not None):
                    return None
                params.append(b)
        elif len(x) * width * dtype.itemsize >= containers.SMALL_WEIGHT_BYTES:
            return None  # (the chain kernel sends a ReLU of an input this large to its own call)
    if len(set(map(id, children))) != len(children):
        return None
    return params
