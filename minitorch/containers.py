"""Containers: ``Sequential`` (a chain with its backward), ``ModuleList`` and ``ModuleDict`` (holders)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from minitorch import call_frames
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
    call ran is gone (PyTorch would backpropagate through the old graph).
    Example:
        model = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
        logits = model(x); dx = model.backward(dlogits)
        model[2] = Linear(16, 5); del model[1]; model.insert(1, Tanh())
    """

    # No frame of its own (it caches nothing; each child refuses a backward without its forward),
    # which saves a forward and a backward wrapper per step. Subclasses get frames again.
    _per_call_frames = False

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):  # torch's Sequential(OrderedDict(...))
            for name, module in modules[0].items():
                _add_named(self, name, module)
        else:
            self._extend(modules, "Sequential(...)", edit=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        d = self.__dict__
        if d.get("_edited") is not None:  # a new forward: the edit's dropped call is no longer next
            d["_edited"] = None
        if kernels_enabled() and type(self) is Sequential:  # fast room: a Linear/ReLU chain in one loop
            y = fast.sequential_forward(self, x)
            if y is not NotImplemented:
                return y
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.__dict__.get("_edited") is not None:
            self._refuse_after_edit("backward")
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            dx = fast.sequential_backward(self, dy, params_only=False)
            if dx is not NotImplemented:
                return dx
        return _backward_through(list(self._modules.values()), dy, params_only=False)

    def backward_params(self, dy: np.ndarray) -> None:
        if self.__dict__.get("_edited") is not None:
            self._refuse_after_edit("backward_params")
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            if fast.sequential_backward(self, dy, params_only=True) is not NotImplemented:
                return
        _backward_through(list(self._modules.values()), dy, params_only=True)

    def _refuse_after_edit(self, method: str) -> None:
        raise RuntimeError(
            f"Sequential.{method}: the Sequential was edited ({self.__dict__['_edited']}) while a forward "
            "call was waiting for its backward; that call ran a chain that no longer exists, so its "
            "waiting calls were dropped. Run forward again on the edited model, then backward"
        )

    # ----------------------------------------------------------------- reading
    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):  # the children keep their names, as torch's slice keeps them
            return type(self)(dict(list(self._modules.items())[index]))
        return list(self._modules.values())[_position(index, len(self), f"Sequential[{index!r}]", True)]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + other: expected a Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __mul__(self, count: int) -> Sequential:
        _check_count(count, "Sequential * count")
        return Sequential(*(list(self) * count))

    def __rmul__(self, count: int) -> Sequential:
        return self.__mul__(count)

    # ----------------------------------------------------------------- editing (in place)
    def append(self, module: Module) -> Sequential:
        return self._extend([module], "Sequential.append")

    def extend(self, modules: Iterable[Module]) -> Sequential:
        return self._extend(modules, "Sequential.extend")

    def _extend(self, modules: Iterable[Module], who: str, edit: bool = True) -> Sequential:
        modules = _modules_of(modules, who)
        names = [str(len(self) + i) for i in range(len(modules))]
        taken = [name for name in names if name in self._modules]
        if taken:  # (only a slice or an OrderedDict-built Sequential has other names)
            raise KeyError(
                f"{who}: the new children's names {names} (their positions) are taken: this Sequential's "
                f"children are named {list(self._modules)}; renumber them first, model = Sequential(*model)"
            )
        if edit:  # (a constructor edits nothing: its modules' waiting calls are left alone)
            _drop_waiting_calls(self, modules, who)
        for name, module in zip(names, modules, strict=True):
            setattr(self, name, module)
        return self

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential += other: expected a Sequential, got {type(other).__name__}")
        return self._extend(list(other), "Sequential +=")

    def __imul__(self, count: int) -> Sequential:
        _check_count(count, "Sequential *= count")
        _need_positional_names(self, "Sequential *= count")
        return self._extend(list(self) * (count - 1), "Sequential *= count")

    def insert(self, index: int, module: Module) -> Sequential:
        who = f"Sequential.insert({index!r}, ...)"
        (module,) = _modules_of([module], who)
        index, n = _as_int(index, who), len(self)
        if not -n <= index <= n:
            raise IndexError(f"{who}: expected an index from {-n} to {n}, got {index}")
        _need_positional_names(self, who)
        children = list(self)
        children.insert(index, module)
        _drop_waiting_calls(self, [module], who)
        _rename(self, children)
        return self

    def __setitem__(self, index: int, module: Module) -> None:
        who = f"Sequential[{index!r}] = ..."
        name = list(self._modules)[_position(index, len(self), who)]
        (module,) = _modules_of([module], who)
        _drop_waiting_calls(self, [module], who)
        setattr(self, name, module)

    def __delitem__(self, index: int | slice) -> None:
        who = f"del Sequential[{index!r}]"
        children = list(self)
        if isinstance(index, slice):
            gone = set(range(len(children))[index])
        else:
            gone = {_position(index, len(children), who, True)}
        _drop_waiting_calls(self, [], who)
        _rename(self, [m for i, m in enumerate(children) if i not in gone])  # torch renumbers every name

    def pop(self, index: int | slice) -> Module:
        """Remove child ``index`` (or a slice of them: a Sequential) and return it."""
        popped = self[index]
        del self[index]
        return popped


class ModuleList(Module):
    """A list of Modules registered as children "0", "1", ..., as torch.nn.ModuleList.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members. A parent whose forward chains them gets its backward.
    Edited as ``torch.nn.ModuleList``, the names always "0", "1", ... in order:
        layers[i], layers[a:b]    a member; a new ModuleList of the slice
        layers[i] = m             replaces member i
        del layers[i], del layers[a:b], layers.pop(i)   removes; the rest renamed
        layers.append(m), layers.extend(ms), layers += ms   add at the end
        layers.insert(i, m)       before member i (as list.insert: negative from the end, clamped)
        layers + ms               a new ModuleList of the same module objects
    An edit while a member has a forward call waiting for its backward drops the waiting calls
    (the parent's backward then raises): run forward again after editing.
    Example:
        self.layers = ModuleList([Linear(8, 8) for _ in range(3)])
        for layer in self.layers: x = layer(x)
    """

    _is_container = True

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._extend(modules, "ModuleList(...)", edit=False)

    def append(self, module: Module) -> ModuleList:
        return self._extend([module], "ModuleList.append")

    def _record_members(self) -> None:
        """Model files rebuild a ModuleList from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": tuple(self._modules.values())})

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        return self._extend(modules, "ModuleList.extend")

    def _extend(self, modules: Iterable[Module], who: str, edit: bool = True) -> ModuleList:
        modules = _modules_of(modules, who)
        if edit:
            _drop_waiting_calls(self, modules, who)
        for module in modules:
            setattr(self, str(len(self._modules)), module)
        self._record_members()
        return self

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self._extend(modules, "ModuleList +=")

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *_modules_of(other, "ModuleList + other")])

    def insert(self, index: int, module: Module) -> None:
        who = f"ModuleList.insert({index!r}, ...)"
        (module,) = _modules_of([module], who)
        members = list(self)
        members.insert(_as_int(index, who), module)
        _drop_waiting_calls(self, [module], who)
        _rename(self, members)
        self._record_members()

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position(index, len(modules), f"ModuleList[{index!r}]", True)]

    def __setitem__(self, index: int, module: Module) -> None:
        who = f"ModuleList[{index!r}] = ..."
        name = list(self._modules)[_position(index, len(self), who)]
        (module,) = _modules_of([module], who)
        _drop_waiting_calls(self, [module], who)
        setattr(self, name, module)
        self._record_members()

    def __delitem__(self, index: int | slice) -> None:
        who = f"del ModuleList[{index!r}]"
        members = list(self)
        if isinstance(index, slice):
            gone = set(range(len(members))[index])
        else:
            gone = {_position(index, len(members), who, True)}
        _drop_waiting_calls(self, [], who)
        _rename(self, [m for i, m in enumerate(members) if i not in gone])
        self._record_members()

    def pop(self, index: int | slice) -> Module | ModuleList:
        """Remove member ``index`` (or a slice of them: a ModuleList) and return it."""
        popped = self[index]
        del self[index]
        return popped

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleList holds modules and is not called: call its members (for m in self.layers: x = m(x))"
        )


# --------------------------------------------------------------------- editing helpers
def _as_int(index: Any, who: str, expected: str = "an int index") -> int:
    try:
        return operator.index(index)  # ints, NumPy ints, bools; not floats (as torch)
    except TypeError:
        raise TypeError(f"{who}: expected {expected}, got {type(index).__name__}") from None


def _position(index: Any, size: int, who: str, slices: bool = False) -> int:
    """``index`` (negative counts from the end) as a position in [0, size), or IndexError as torch."""
    i = _as_int(index, who, "an int index or a slice" if slices else "an int index")
    if not -size <= i < size:
        span = f"an index from {-size} to {size - 1}" if size else "no index (it is empty)"
        raise IndexError(f"{who}: expected {span}, got {i}: out of range for {size} modules")
    return i % size


def _modules_of(modules: Iterable[Module], who: str) -> list[Module]:
    """``modules`` as a list, every item checked to be a Module (before anything is edited)."""
    try:
        modules = list(modules)
    except TypeError:
        raise TypeError(f"{who}: expected an iterable of Modules, got {type(modules).__name__}") from None
    for module in modules:
        if not isinstance(module, Module):  # (torch's Sequential[i] = None leaves an empty slot: not here)
            empty = " (a child cannot be empty: del removes one)" if module is None else ""
            raise TypeError(f"{who}: expected Module instances, got {type(module).__name__}{empty}")
    return modules


def _check_count(count: Any, who: str) -> None:
    if not isinstance(count, int):
        raise TypeError(f"{who}: expected an int count, got {type(count).__name__}")
    if count <= 0:
        raise ValueError(f"{who}: expected a positive count, got {count}")


def _add_named(container: Module, name: Any, module: Module) -> None:
    """A child under ``name``, with torch's ``add_module`` checks (and no leading '_': caches' names)."""
    who = f"{type(container).__name__}: child name {name!r}"
    if not isinstance(name, str):
        raise TypeError(f"{who}: expected a str, got {type(name).__name__}")
    if not name or "." in name or name.startswith("_"):
        raise KeyError(f"{who}: expected a non-empty name without '.' or leading '_'")
    if name not in container._modules and hasattr(container, name):
        raise KeyError(f"{who} is an attribute of {type(container).__name__}")
    (module,) = _modules_of([module], f"{type(container).__name__}({name}=...)")
    setattr(container, name, module)


def _need_positional_names(container: Module, who: str) -> None:
    names = list(container._modules)
    if names != [str(i) for i in range(len(names))]:
        raise KeyError(
            f"{who}: renumbers children named '0', '1', ...; this one's are {names} (a slice keeps its "
            "names); renumber them first, model = Sequential(*model)"
        )


def _rename(container: Module, children: list[Module]) -> None:
    """``children`` as the children "0", "1", ..., through ``__delattr__`` and ``__setattr__``, so
    every registry the Module keeps stays right (``_modules`` is the same dict, edited in place)."""
    for name in list(container._modules):
        delattr(container, name)
    for i, module in enumerate(children):
        setattr(container, str(i), module)


def _drop_waiting_calls(container: Module, incoming: list[Module], who: str) -> None:
    """Before an edit: if the container, a child or an incoming module has a forward call waiting
    for its backward, drop those calls (the chain they ran is being changed) and mark a Sequential
    so its next backward says why (``Sequential._refuse_after_edit``)."""
    involved = [container, *container._modules.values(), *incoming]
    if not any(m.__dict__["_stack"] for module in involved for m in module.modules()):
        return
    for module in involved:
        call_frames.discard_all(module)
    if isinstance(container, Sequential):
        container.__dict__["_edited"] = who


class ModuleDict(Module):
    """A dict of Modules registered under their keys, in insertion order, as torch.nn.ModuleDict.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members ("heads.cls.W"). Edited as ``torch.nn.ModuleDict``:
        heads[k] = m, del heads[k], heads.pop(k), heads.clear(), heads.update(pairs)
    An edit while a member has a forward call waiting for its backward drops the waiting calls.
    Example:
        self.heads = ModuleDict({"cls": Linear(8, 3), "box": Linear(8, 4)})
        logits = self.heads["cls"](h)
    """

    _is_container = True

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            for key, module in _pairs(modules):
                self._set(key, module, edit=False)  # (a constructor edits nothing)

    def __setitem__(self, key: str, module: Module) -> None:
        self._set(key, module)

    def _set(self, key: str, module: Module, edit: bool = True) -> None:
        if not isinstance(key, str) or not key or "." in key or key.startswith("_"):
            raise KeyError(f"ModuleDict: keys are non-empty strings without '.' or leading '_', got {key!r}")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} is an attribute of ModuleDict")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected Module instances, got {type(module).__name__}")
        if edit:
            _drop_waiting_calls(self, [module], f"ModuleDict[{key!r}] = ...")
        setattr(self, key, module)
        self._record_members()

    def _record_members(self) -> None:
        """Model files rebuild a ModuleDict from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": dict(self._modules)})

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict[{key!r}]: expected one of its keys {list(self._modules)}") from None

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:  # (never another attribute: del heads["training"])
            raise KeyError(f"del ModuleDict[{key!r}]: expected one of its keys {list(self._modules)}")
        _drop_waiting_calls(self, [], f"del ModuleDict[{key!r}]")
        delattr(self, key)
        self._record_members()

    def pop(self, key: str) -> Module:
        """Remove member ``key`` and return it (KeyError if there is none)."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every member."""
        for key in list(self._modules):
            del self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> None:
        for key, module in _pairs(modules):
            self[key] = module

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleDict holds modules and is not called: call its members (self.heads['cls'](h))"
        )


def _pairs(modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> Iterable[tuple[str, Module]]:
    return modules.items() if isinstance(modules, dict) else modules


register_step_class(Sequential)  # mt.fit's whole-step kernel (kernels/step.py) runs its case
