"""Containers: ``Sequential`` (a chain with its backward), ``ModuleList`` and ``ModuleDict`` (holders)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

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
    Example:
        model = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
        logits = model(x); dx = model.backward(dlogits)
        model[0], len(model), list(model)
    """

    # No frame of its own (it caches nothing; each child refuses a backward without its forward),
    # which saves a forward and a backward wrapper per step. Subclasses get frames again.
    _per_call_frames = False

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected Module instances, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        if kernels_enabled() and type(self) is Sequential:  # fast room: a Linear/ReLU chain in one loop
            y = fast.sequential_forward(self, x)
            if y is not NotImplemented:
                return y
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            dx = fast.sequential_backward(self, dy, params_only=False)
            if dx is not NotImplemented:
                return dx
        return _backward_through(list(self._modules.values()), dy, params_only=False)

    def backward_params(self, dy: np.ndarray) -> None:
        if kernels_enabled() and type(self) is Sequential:  # fast room: the same gradients, one loop
            if fast.sequential_backward(self, dy, params_only=True) is not NotImplemented:
                return
        _backward_through(list(self._modules.values()), dy, params_only=True)

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of Modules registered as children "0", "1", ..., as torch.nn.ModuleList.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members. A parent whose forward chains them gets its backward.
    Example:
        self.layers = ModuleList([Linear(8, 8) for _ in range(3)])
        for layer in self.layers: x = layer(x)
    """

    _is_container = True

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected Module instances, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        self._record_members()
        return self

    def _record_members(self) -> None:
        """Model files rebuild a ModuleList from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": tuple(self._modules.values())})

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected Module instances, got {type(module).__name__}")
        name = list(self._modules)[index]  # IndexError for an index out of range
        setattr(self, name, module)
        self._record_members()

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleList holds modules and is not called: call its members (for m in self.layers: x = m(x))"
        )


class ModuleDict(Module):
    """A dict of Modules registered under their keys, in insertion order, as torch.nn.ModuleDict.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members ("heads.cls.W").
    Example:
        self.heads = ModuleDict({"cls": Linear(8, 3), "box": Linear(8, 4)})
        logits = self.heads["cls"](h)
    """

    _is_container = True

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key or key.startswith("_"):
            raise KeyError(f"ModuleDict: keys are non-empty strings without '.' or leading '_', got {key!r}")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} is an attribute of ModuleDict")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected Module instances, got {type(module).__name__}")
        setattr(self, key, module)
        self._record_members()

    def _record_members(self) -> None:
        """Model files rebuild a ModuleDict from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": dict(self._modules)})

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __delitem__(self, key: str) -> None:
        delattr(self, key)
        self._record_members()

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
        pairs = modules.items() if isinstance(modules, dict) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleDict holds modules and is not called: call its members (self.heads['cls'](h))"
        )


register_step_class(Sequential)  # mt.fit's whole-step kernel (kernels/step.py) runs its case
