"""``Sequential``: modules applied in order, with the chain rule's backward and torch's edits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from minitorch import call_frames, edit_marks
from minitorch.containers import editing
from minitorch.grad_mode import _state as _grad_state
from minitorch.kernels import containers as fast
from minitorch.kernels import kernels_enabled
from minitorch.kernels.step import register_step_class
from minitorch.module import Module, _backward_through


class Sequential(Module):
    """Modules applied in order: y = m_k(...m_2(m_1(x))).

    Forward:  h_0 = x;  h_i = m_i(h_{i-1});  y = h_k
    Backward: dh_k = dy;  dh_{i-1} = m_i.backward(dh_i);  dx = dh_0   (chain rule, in reverse)
    backward_params: as backward down to the first module with parameters, which runs
              backward_params; the parameter-free modules before it (Flatten...) are skipped.
    Children are named "0", "1", ... (``Sequential(OrderedDict(name=module, ...))`` names them),
    and edited as ``torch.nn.Sequential`` edits them, names included (so ``state_dict()`` keys stay
    PyTorch's):
        model[i], model[a:b]      a child; a Sequential of the slice, keeping the children's names
        model[i] = m              replaces child i, same name
        del model[i], del model[a:b], model.pop(i)   removes; the rest renamed "0", "1", ...
        model.append(m), model.extend(ms), model += other   add children "n", "n+1", ...
        model.insert(i, m)        before child i (-n <= i <= n); the rest renamed
        model + other, model * k, k * model   a new Sequential of the same module objects
        model *= k                the children repeated k times in place
    An edit while a child has a forward call waiting for its backward drops the waiting calls;
    the next backward (before a new forward) raises RuntimeError naming the edit: the chain that
    call ran is gone (PyTorch would backpropagate through the old graph). An edit that leaves the
    chain as it ran (model *= 1, extend([]), an empty del, model[i] = model[i]) keeps the calls. A
    parent holding the edited one (a Sequential or any Module), another container holding a child
    whose calls were dropped refuse too, before any child runs (a deepcopy holds no waiting call:
    its backward refuses until its own forward).
    Deviations from torch, as errors: ``model[i] = None`` (torch leaves an empty slot) raises
    TypeError; ``extend`` checks every item first and adds none if one is not a Module (torch has
    added the items before it).
    Example:
        model = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
        logits = model(x); dx = model.backward(dlogits)
        model[2] = Linear(16, 5); del model[1]; model.insert(1, Tanh())
    """

    # No frame of its own (it caches nothing; each child refuses a backward without its forward),
    # which saves a forward and a backward wrapper per step. Subclasses get frames again.
    _per_call_frames = False
    _child_slots = False

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):  # torch's Sequential(OrderedDict(...))
            for name, module in modules[0].items():
                editing.add_named(self, name, module)
        else:
            self._extend(modules, "Sequential(...)", edit=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        d = self.__dict__
        if d.get("_edited") is not None and _grad_state.enabled:  # a new forward: the edit's dropped
            d["_edited"] = None  # call is no longer next (one under no_grad answers none)
        if kernels_enabled() and type(self) is Sequential:  # fast room: a Linear/ReLU chain in one loop
            y = fast.sequential_forward(self, x)
            if y is not NotImplemented:
                return y
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if edit_marks._marked_refs or self.__dict__.get("_edited") is not None:
            self._refuse_after_edit("backward")
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            dx = fast.sequential_backward(self, dy, params_only=False)
            if dx is not NotImplemented:
                return dx
        return _backward_through(list(self._modules.values()), dy, params_only=False)

    def backward_params(self, dy: np.ndarray) -> None:
        if edit_marks._marked_refs or self.__dict__.get("_edited") is not None:
            self._refuse_after_edit("backward_params")
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            if fast.sequential_backward(self, dy, params_only=True) is not NotImplemented:
                return
        _backward_through(list(self._modules.values()), dy, params_only=True)

    def _drop_waiting_calls(self, incoming: list[Module], who: str) -> None:
        if editing.drop_waiting_calls(self, incoming, who):
            self.__dict__["_edited"] = who  # the next backward says why it refuses
            self.__dict__["_edited_at"] = edit_marks.mark(self)

    def _refuse_after_edit(self, method: str) -> None:
        """RuntimeError if this Sequential, one inside it or a module it holds lost a waiting call
        to an edit, before any child runs (no gradient of the dropped call is accumulated); the
        waiting calls of this chain, which ran the old one, are dropped too, so a new forward
        starts clean (``call_frames.refuse_after_edit``)."""
        call_frames.refuse_after_edit(self, method)

    # ----------------------------------------------------------------- reading
    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):  # the children keep their names, as torch's slice keeps them
            return type(self)(dict(list(self._modules.items())[index]))
        i = editing.position(index, len(self), f"Sequential[{index!r}]", slices=True)
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + other: expected a Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __mul__(self, count: int) -> Sequential:
        editing.check_count(count, "Sequential * count")
        return Sequential(*(list(self) * count))

    def __rmul__(self, count: int) -> Sequential:
        return self.__mul__(count)

    # ----------------------------------------------------------------- editing (in place)
    def append(self, module: Module) -> Sequential:
        return self._extend([module], "Sequential.append")

    def extend(self, modules: Iterable[Module]) -> Sequential:
        return self._extend(modules, "Sequential.extend")

    def _extend(self, modules: Iterable[Module], who: str, edit: bool = True) -> Sequential:
        modules = editing.modules_of(modules, who)
        names = [str(len(self) + i) for i in range(len(modules))]
        taken = [name for name in names if name in self._modules]
        if taken:  # (only a slice or an OrderedDict-built Sequential has other names)
            raise KeyError(
                f"{who}: the new children's names {names} (their positions) are taken: this Sequential's "
                f"children are named {list(self._modules)}; renumber them first, model = Sequential(*model)"
            )
        if edit and modules:  # (a constructor, or no module added, edits nothing: calls are kept)
            self._drop_waiting_calls(modules, who)
        for name, module in zip(names, modules, strict=True):
            setattr(self, name, module)
        return self

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential += other: expected a Sequential, got {type(other).__name__}")
        return self._extend(list(other), "Sequential +=")

    def __imul__(self, count: int) -> Sequential:
        editing.check_count(count, "Sequential *= count")
        editing.need_positional_names(self, "Sequential *= count")
        return self._extend(list(self) * (count - 1), "Sequential *= count")

    def insert(self, index: int, module: Module) -> Sequential:
        who = f"Sequential.insert({index!r}, ...)"
        (module,) = editing.modules_of([module], who)
        index, n = editing.as_int(index, who), len(self)
        if not -n <= index <= n:
            raise IndexError(f"{who}: expected an index from {-n} to {n}, got {index}")
        editing.need_positional_names(self, who)
        children = list(self)
        children.insert(index, module)
        self._drop_waiting_calls([module], who)
        editing.rename(self, children)
        return self

    def __setitem__(self, index: int, module: Module) -> None:
        who = f"Sequential[{index!r}] = ..."
        name = list(self._modules)[editing.position(index, len(self), who)]
        (module,) = editing.modules_of([module], who)
        if editing.unchanged(self, name, module):
            return
        self._drop_waiting_calls([module], who)
        setattr(self, name, module)

    def __delitem__(self, index: int | slice) -> None:
        who = f"del Sequential[{index!r}]"
        kept = editing.kept_after_delete(list(self), index, who)
        if len(kept) < len(self):  # (an empty slice only renames: the chain is as it ran)
            self._drop_waiting_calls([], who)
        editing.rename(self, kept)  # torch renumbers every name

    def pop(self, index: int | slice) -> Module:
        """Remove child ``index`` (or a slice of them: a Sequential) and return it."""
        popped = self[index]
        del self[index]
        return popped


register_step_class(Sequential)  # mt.fit's whole-step kernel (kernels/step.py) runs its case
