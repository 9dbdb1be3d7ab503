"""Module, Parameter and Sequential: the contract every layer of MiniTorch follows.

The contract (written once, here):

- ``forward(x)`` computes the output and caches what ``backward`` needs (``self._x``, ``self._mask``...).
- ``backward(dy)`` takes dy = dL/dy (the output's shape), **accumulates** every parameter's gradient
  (``p.grad += ...``) and returns dx = dL/dx (the input's shape). Calling it before ``forward`` raises
  ``RuntimeError``.
- ``backward_params(dy)`` does only the first half: parameter gradients, no dx. Training calls it on
  the model, whose input (the data) needs no gradient; ``Sequential`` then runs it on its first
  module with parameters. PyTorch skips that work the same way.
- ``zero_grad()`` resets the gradients, so gradients add up across backward calls until then.
- Ownership: a module never writes into an array it is given (``x``, ``dy``, a Parameter's ``data``
  outside an optimizer); it may work in place on arrays it has just created itself (``Linear`` adds
  ``b`` into its fresh product) and may return a view of its input (``Flatten``, ``Identity``).

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, in order of assignment; the
dotted names (``"0.W"``, ``"encoder.1.b"``) are the ``state_dict`` keys.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minitorch.checks import check_dict
from minitorch.parameter import Parameter

# Set (by ``minitorch.model_files`` while it rebuilds a model from a file) to a function that
# vets every module's constructor arguments before the constructor runs; None otherwise.
constructor_check: contextvars.ContextVar[Callable[[type, dict[str, Any]], None] | None] = (
    contextvars.ContextVar("constructor_check", default=None)
)


class Module:
    """Base class of every layer, loss and model (see the module docstring for the contract).

    Subclasses call ``super().__init__()`` first, then assign their Parameters and child Modules as
    attributes; those are registered in order. Caches are plain attributes and are never registered.

    Constructor arguments are recorded: every subclass's ``__init__`` is wrapped (once, when the
    class is defined) so that the outermost constructor call stores its bound arguments, defaults
    applied, in ``self._init_args`` (``Linear(4, 3)`` -> ``{"in_features": 4, "out_features": 3,
    "bias": True}``). ``mt.save_model`` writes them as the model's architecture, so a layer author
    does nothing to make a layer saveable. It costs one signature bind per construction, nothing on
    forward or backward.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls.__dict__["__init__"])

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers and isinstance(value, np.ndarray):
            buffers[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
            buffers.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep an array that is state but not trained (e.g. running statistics).

        Buffers appear in ``state_dict()`` and are cast by ``to()``; they never appear in
        ``parameters()``.
        """
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists")
        self._buffers[name] = np.asarray(value)
        object.__setattr__(self, name, self._buffers[name])

    # ----------------------------------------------------------------- computation
    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, dy: Any) -> Any:
        """dL/d(inputs) from dy = dL/d(output); accumulates every parameter's gradient.

        A layer with parameters writes the two halves (Torch7's accGradParameters and
        updateGradInput): ``backward_params(dy)`` accumulates the parameter gradients and
        ``backward_input(dy)`` returns dx; neither calls the other, and this default runs both.
        A layer without parameters overrides ``backward`` itself.
        """
        if type(self).backward_input is not Module.backward_input:
            self.backward_params(dy)
            return self.backward_input(dy)
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def backward_input(self, dy: Any) -> Any:
        """The input half of ``backward``: returns dx, touches no parameter gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward_input()")

    def backward_params(self, dy: np.ndarray) -> None:
        """Accumulate the parameter gradients only; dx is not needed by the caller.

        The default runs ``backward`` and drops dx, or does nothing for a module without
        parameters. Layers whose dx costs real work override it (``Linear`` saves a matrix product).
        """
        if _has_parameters(self):
            self.backward(dy)

    def __call__(self, *inputs: Any) -> Any:
        return self.forward(*inputs)

    def _cached(self, value: Any) -> Any:
        """``value`` from forward's cache, or a RuntimeError if forward has not run."""
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() called before forward(): "
                "run a forward pass first, backward needs its cached values"
            )
        return value

    def _check_grad(self, dy: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """dy as an array of ``dtype``, or a ValueError if it is not the output's ``shape``."""
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dy of the output's shape {shape}, "
                f"got {dy.shape}"
            )
        return dy

    # ----------------------------------------------------------------- traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, with dotted names."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for this module's own Parameters, then each child's."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> list[Parameter]:
        """Every Parameter, in layer order, weight before bias (shared ones once)."""
        return [param for _, param in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                yield (f"{module_name}.{name}" if module_name else name), buffer

    # ----------------------------------------------------------------- state
    def zero_grad(self) -> None:
        for param in self.parameters():
            param.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Switch this module and every descendant to training mode (or eval mode if False)."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype: type | np.dtype | str) -> Module:
        """Cast every Parameter and floating buffer to ``dtype`` (e.g. ``np.float64``)."""
        for param in self.parameters():
            param.to(dtype)
        for module in self.modules():
            for name, buffer in list(module._buffers.items()):
                if buffer.dtype.kind == "f":
                    setattr(module, name, buffer.astype(dtype))
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> copy of the array, for every Parameter and buffer (e.g. ``"0.W"``)."""
        state = {}
        for module_name, module in self.named_modules():
            for name, param in module._parameters.items():
                state[f"{module_name}.{name}" if module_name else name] = param.data.copy()
            for name, buffer in module._buffers.items():
                state[f"{module_name}.{name}" if module_name else name] = np.array(buffer, copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the Parameters and buffers, in place.

        Every name, shape and dtype is checked before anything changes: on error the module is
        exactly as before. Values are cast to each target's dtype.
        """
        check_dict(state, f"{type(self).__name__}.load_state_dict", "state")
        targets = self._state_targets()
        missing = [name for name in targets if name not in state]
        unexpected = [name for name in state if name not in targets]
        if missing or unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: names do not match the model; "
                f"missing {missing}, unexpected {unexpected}"
            )
        values = {}
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{name}' expected shape "
                    f"{target.shape}, got {value.shape}"
                )
            if value.dtype.kind not in "biuf" or not np.can_cast(value.dtype, target.dtype, "same_kind"):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{name}' expected a numeric array "
                    f"castable to {target.dtype}, got dtype {value.dtype}"
                )
            values[name] = value
        for name, target in targets.items():
            np.copyto(target, values[name], casting="same_kind")

    def _state_targets(self) -> dict[str, np.ndarray]:
        targets = {}
        for module_name, module in self.named_modules():
            for name, param in module._parameters.items():
                targets[f"{module_name}.{name}" if module_name else name] = param.data
            for name, buffer in module._buffers.items():
                targets[f"{module_name}.{name}" if module_name else name] = buffer
        return targets

    # ----------------------------------------------------------------- display
    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr``; layers override this only."""
        return ""

    def __repr__(self) -> str:
        name = type(self).__name__
        if not self._modules:
            return f"{name}({self.extra_repr()})"
        lines = [f"{name}("]
        if self.extra_repr():
            lines.append(f"  {self.extra_repr()}")
        for child_name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({child_name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)


def _recording_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap ``init`` so that the outermost constructor call records its arguments (see Module)."""
    signature: inspect.Signature | None = None

    @functools.wraps(init)
    def recording_init(self: Module, *args: Any, **kwargs: Any) -> None:
        nonlocal signature
        if "_init_args" not in self.__dict__:  # a subclass's super().__init__(...) is not recorded
            signature = signature or inspect.signature(init)
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                return init(self, *args, **kwargs)  # raises Python's own message for the bad call
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            del arguments[next(iter(signature.parameters))]  # self
            check = constructor_check.get()
            if check is not None:
                check(type(self), arguments)
            object.__setattr__(self, "_init_args", arguments)
        init(self, *args, **kwargs)

    return recording_init


def _has_parameters(module: Module) -> bool:
    """Whether ``module`` or a descendant has a Parameter (cheaper than ``module.parameters()``)."""
    return bool(module._parameters) or any(_has_parameters(child) for child in module._modules.values())


class Sequential(Module):
    """Modules applied in order: y = m_k(...m_2(m_1(x))).

    Forward:  h_0 = x;  h_i = m_i(h_{i-1});  y = h_k
    Backward: dh_k = dy;  dh_{i-1} = m_i.backward(dh_i);  dx = dh_0   (chain rule, in reverse)
    Example:
        model = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
        logits = model(x); dx = model.backward(dlogits)
        model[0], len(model), list(model)
    """

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
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for module in reversed(self._modules.values()):
            dy = module.backward(dy)
        return dy

    def backward_params(self, dy: np.ndarray) -> None:
        """Like ``backward``, but no gradient w.r.t. the input is computed.

        The first module with parameters runs ``backward_params``; the parameter-free modules
        before it (``Flatten``, ``Identity``...) would only pass dx down to the data, so they are
        skipped: in ``Sequential(Flatten(), Linear(784, 10))`` that saves the (N, 784) product.
        """
        modules = list(self._modules.values())
        first = next((i for i, module in enumerate(modules) if _has_parameters(module)), len(modules))
        for module in reversed(modules[first + 1 :]):
            dy = module.backward(dy)
        if first < len(modules):
            modules[first].backward_params(dy)

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
