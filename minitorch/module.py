"""Module and Parameter: the contract every layer, loss and model of MiniTorch follows.

The contract (written once, here; docs/concepts/module-contract.md says the same with examples):

- ``forward(*inputs, **kwargs)`` computes the output. What ``backward`` needs it stores in attributes
  named with a leading ``_`` (``self._x = x``): those assignments are that call's *cache*.
- Each forward call's cache is kept for exactly one backward. ``backward(dy)`` takes dy = dL/dy
  (the output's shape), **accumulates** every parameter's gradient (``p.accumulate_grad(g)``) and
  returns dx = dL/dx (the input's shape). It consumes the newest waiting forward call (LIFO): a
  module called twice in one forward gets both gradients when backward runs in reverse order; a
  loss called for two terms gives the newest term's gradient first. A backward with no waiting
  forward raises ``RuntimeError`` (a second backward for one forward too); a backward that raises
  (a dy of the wrong shape) leaves its forward call waiting, so it can be retried.
- A layer with parameters writes two halves that never call each other: ``backward_params(dy)``
  accumulates the parameter gradients, ``backward_input(dy)`` returns dx; the default ``backward``
  runs both. A layer without parameters writes ``backward`` only. Training calls
  ``backward_params`` on the model (the data needs no gradient). Any one of the three, called from
  outside, consumes one forward call.
- A module that defines no backward and whose forward is a plain chain of its children
  (``y = self.b(self.a(x))``: each child gets the previous output object itself, the module returns
  the last one) gets ``backward`` and ``backward_params`` from the recorded calls; any other
  forward makes its backward raise, saying how to write it. (An in-place change of an output
  between two children cannot be seen: write backward for such a forward.)
- Under ``with mt.no_grad():`` forward keeps nothing. ``optimizer.step()`` raises if a module
  owning one of its Parameters still has a forward call waiting (a forward whose backward never
  ran), naming the module; ``model.discard_caches()`` drops waiting calls.
- ``p.grad`` is None until a gradient is written and after ``zero_grad()``; gradients add up
  across backward calls until then.
- A Parameter that requires grad given as an input (``lin(p)``, ``mha(q, x, x)``, ``lstm(x, (h0,
  c0))``) is torch's leaf, for every module (``minitorch.leaf_inputs``, applied by the per-call
  wrappers): the forward's body sees ``p.data``; the backward consuming that call (any of the
  three, ``backward_params`` too) adds the input's gradient, the total of every path inside the
  module, into ``p.grad`` and returns None in p's slot. A frozen Parameter, or any input under
  ``no_grad``, is data. A leaf the backward would give no gradient (a loss's target) is refused.
- Freezing: a Parameter with ``requires_grad`` False (``module.requires_grad_(False)``) gets no
  gradient (``accumulate_grad`` does nothing; a layer may skip computing it), so an optimizer
  leaves it alone once its grad is None (``zero_grad()``; as torch's, it steps a grad it still
  holds, zeros included), and ``backward_params`` of a chain stops below the first module with a trainable
  Parameter (a frozen first layer is not backpropagated at all).
- Ownership: a module never writes into an array it is given (``x``, ``dy``, a Parameter's ``data``
  outside an optimizer); it may work in place on arrays it has just created itself and may return
  a view of its input (``Flatten``, ``Identity``).

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, in order of assignment; the
dotted names (``"0.W"``, ``"encoder.1.b"``) are the ``state_dict`` keys. ``None`` assigned to a
Parameter's, buffer's or child's name keeps its slot (as torch's; not in the containers): skipped by
``parameters()``, ``children()`` and ``state_dict()``, and what is assigned later takes that place.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple

import numpy as np

from minitorch import call_frames, lent_weights
from minitorch.constructor_args import recording_init
from minitorch.dtypes import check_cpu, dtype_or_cpu, float_dtype
from minitorch.leaf_inputs import LEAVES
from minitorch.parameter import Parameter, TransposedView, check_requires_grad, data_of
from minitorch.parameter_views import ParameterView
from minitorch.state_assign import assign_state, check_assignable

# Parameter -> the modules it is registered in (weak both ways): lets an optimizer, which holds
# only Parameters, find the modules whose waiting forward calls would corrupt its step.
_owners: weakref.WeakKeyDictionary[Parameter, list[weakref.ref[Module]]] = weakref.WeakKeyDictionary()
_registrations = [0]  # bumped on every registration, so optimizers know when to look again


def _register_owner(param: Parameter, module: Module) -> None:
    refs = _owners.setdefault(param, [])
    if not any(ref() is module for ref in refs):
        refs.append(weakref.ref(module))
        _registrations[0] += 1


class Module:
    """Base class of every layer, loss and model; the contract is in this file's docstring.

    Subclasses call ``super().__init__()`` first, then assign their Parameters and child Modules as
    attributes; those are registered in order. Caches are ``_``-named attributes assigned in
    ``forward``; they are never registered. After a forward call they hold that call's values;
    during a backward, the values of the call it consumes; after it (and after a forward under
    ``no_grad``), None. Attributes assigned in ``__init__`` and buffers are not caches.

    When a subclass is defined, its ``__init__`` is wrapped to record the constructor arguments
    (``minitorch.constructor_args``, for model files) and its ``forward``, ``backward``,
    ``backward_params`` and ``backward_input`` are wrapped to keep one cache per call
    (``minitorch.call_frames``). The cost per call is a few dictionary operations (about 0.7 us
    per wrapped call in CPython 3.11). ``Sequential`` keeps no frame of its own.
    """

    _records_calls = False  # True for a class without a backward of its own: it records its children's calls
    _is_container = False  # ModuleList / ModuleDict: holds modules, is not called
    # None assigned to a child's name keeps an empty slot, as torch; False for the containers, whose
    # children are numbered and all called (their editing refuses None; setattr unregisters)
    _child_slots = True
    # False (declared in a class's own body): its methods keep no frame. Only for a class that
    # caches nothing and whose children detect a missing forward themselves (Sequential).
    _per_call_frames = True
    # Parameter inputs (minitorch.leaf_inputs): how many leading inputs backward returns gradients
    # for (None: every input), and the forward's arguments whose Parameter the module trains itself
    _graded_inputs: int | None = None
    _leaf_keywords: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = recording_init(cls.__dict__["__init__"])
        elif cls.__init__ is Module.__init__:  # the bare constructor, wrapped too: a bad call names cls
            cls.__init__ = recording_init(Module.__init__)
        if cls.__dict__.get("_per_call_frames", True):  # own or inherited methods, wrapped once
            for name in ("backward", "backward_params", "backward_input"):
                setattr(cls, name, call_frames.backward_call(getattr(cls, name)))
            inherited = cls.backward is Module.backward and cls.backward_input is Module.backward_input
            cls._records_calls = inherited  # no backward of its own: follow the recorded chain
            cls.forward = call_frames.forward_call(cls.forward, cls._records_calls)
        else:  # no frame, but a composite parent still sees the call
            cls._records_calls = False
            cls.forward = call_frames.logged_call(cls.forward)

    def __init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "_parameters", {})
        set_(self, "_modules", {})
        set_(self, "_buffers", {})
        set_(self, "training", True)
        set_(self, "_frame", None)  # the per-call state described in minitorch.call_frames
        set_(self, "_stack", [])
        set_(self, "_shown", None)
        set_(self, "_busy", False)

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        frame = d.get("_frame")
        if (frame is not None and name[0] == "_"
                and (not isinstance(value, (Parameter, Module)) or type(value) is ParameterView)
                and name not in d["_buffers"]):
            frame[name] = d[name] = value  # a cache of the forward call now running
            return
        if "_parameters" not in d:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(getattr(type(self), name, None), property):  # an alias (Linear.weight -> W)
            object.__setattr__(self, name, value)
            return
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            if isinstance(value, TransposedView):
                _refuse_view(self, name)
            if isinstance(value, ParameterView):
                _refuse_parameter_view(self, name)
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
            _register_owner(value, self)
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:  # as torch: never a silent unregistration; None keeps the slot
            if value is None:
                params[name] = None
                object.__setattr__(self, name, None)
                return
            raise TypeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} as Parameter '{name}' "
                f"(a Parameter or None expected); to set its values: .{name}.data[...] = array, "
                f"to replace it: .{name} = mt.Parameter(array)"
            )
        elif name in modules and (value is None and self._child_slots):  # torch's empty slot
            modules[name] = None
        elif name in modules and value is not None:
            raise TypeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} as child module '{name}' "
                "(a Module or None expected); to keep it as a plain attribute, del the child first"
            )
        elif name in buffers:
            if value is None:  # as torch: the buffer's slot (its place in state_dict order) is kept
                buffers[name] = None
                object.__setattr__(self, name, None)
                return
            if isinstance(value, np.generic):  # a 0-d buffer + 1 is a NumPy scalar: still the buffer
                value = np.asarray(value)
            if not isinstance(value, np.ndarray):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} as buffer '{name}' "
                    "(a NumPy array or None expected)"
                )
            buffers[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
            buffers.pop(name, None)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        """``copy.deepcopy`` (and ``copy.copy``) copy the module without the forward calls waiting
        for their backward: as torch copies parameters and buffers, never the autograd graph of a
        forward (whose backward still fills the original's gradients), the copy starts with no
        call waiting, its cache attributes None and no edit's mark; its backward raises the usual
        "no forward call is waiting" until its own forward. The original keeps its calls."""
        state = dict(self.__dict__)
        frames = [*state.get("_stack", ()), state.get("_shown") or {}, state.get("_frame") or {}]
        for name in {name for frame in frames for name in frame}:
            state[name] = None
        state.update({"_frame": None, "_stack": [], "_shown": None, "_busy": False})
        if "_edited" in state:  # an edited Sequential's pending refusal: the copy has no call to refuse
            state["_edited"] = None
        for name in ("_dropped_by", "_clean_at"):  # a dropped call's mark; a parent's look for marks
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling and ``copy.deepcopy``: the copy's Parameters know their new owner."""
        self.__dict__.update({"_frame": None, "_stack": [], "_shown": None, "_busy": False, **state})
        for param in state.get("_parameters", {}).values():
            if param is not None:
                _register_owner(param, self)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: np.ndarray, persistent: bool = True) -> None:
        """Keep an array that is state but not trained (e.g. running statistics).

        Buffers appear in ``state_dict()`` (not with ``persistent=False``, as torch's: a value the
        constructor recomputes, such as a positional encoding) and are cast by ``to()``; they never
        appear in ``parameters()``. Forward may update a buffer: it is not a cache. Checks as
        torch's: a name with '.', an empty one or an existing attribute's is a KeyError. A None
        value is an empty slot, as torch's: in no ``state_dict()`` until an array is assigned to it.
        """
        who = f"{type(self).__name__}.register_buffer"
        _check_new_name(self, name, self._buffers, who)
        if not isinstance(persistent, bool):
            raise TypeError(f"{who}: expected persistent True or False, got {type(persistent).__name__}")
        self._buffers[name] = None if value is None else np.asarray(value)
        transient = self.__dict__.setdefault("_non_persistent", set())
        (transient.discard if persistent else transient.add)(name)
        object.__setattr__(self, name, self._buffers[name])

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name``, as ``torch.nn.Module.add_module`` (``setattr`` does
        the same with a fixed name). A name with '.', an empty one or an existing non-child attribute
        is a KeyError, a value that is not a Module (or None) a TypeError."""
        who = f"{type(self).__name__}.add_module"
        _check_new_name(self, name, self._modules, who)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{who}: expected a Module (or None) for '{name}', got {type(module).__name__}")
        if module is None and self._child_slots:  # as torch: an empty slot, filled later in its place
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = None
            object.__setattr__(self, name, None)
            return
        setattr(self, name, module)

    def register_module(self, name: str, module: Module | None) -> None:
        """``add_module``, under torch's other name."""
        self.add_module(name, module)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` as the Parameter ``name``, as ``torch.nn.Module.register_parameter``
        (checks as ``add_module``'s; an array is a TypeError: wrap it, ``mt.Parameter(array)``)."""
        who = f"{type(self).__name__}.register_parameter"
        _check_new_name(self, name, self._parameters, who)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{who}: expected a Parameter (or None) for '{name}', got {type(param).__name__} "
                "(wrap an array: mt.Parameter(array))"
            )
        if param is None:  # as torch: an empty slot, which a later Parameter fills in its place
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = None
            object.__setattr__(self, name, None)
            return
        setattr(self, name, param)

    def get_submodule(self, target: str) -> Module:
        """The descendant at the dotted path ``target`` ("" is this module), as torch's."""
        module = self
        for i, part in enumerate(target.split(".") if target else []):
            child = module._modules.get(part)
            if child is None:
                where = ".".join(target.split(".")[:i]) or type(self).__name__
                raise AttributeError(
                    f"{type(self).__name__}.get_submodule: '{where}' has no submodule '{part}'"
                )
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The Parameter at the dotted path ``target`` ("0.W"), as torch's."""
        path, _, name = target.rpartition(".")
        param = self.get_submodule(path)._parameters.get(name)
        if param is None:
            raise AttributeError(f"{type(self).__name__}.get_parameter: '{target}' is not a Parameter")
        return param

    def get_buffer(self, target: str) -> np.ndarray:
        """The buffer at the dotted path ``target`` ("1.running_mean"), as torch's."""
        path, _, name = target.rpartition(".")
        buffer = self.get_submodule(path)._buffers.get(name)
        if buffer is None:
            raise AttributeError(f"{type(self).__name__}.get_buffer: '{target}' is not a buffer")
        return buffer

    # ----------------------------------------------------------------- computation
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, dy: Any) -> Any:
        """dL/d(inputs) from dy = dL/d(output); accumulates every parameter's gradient.

        The default runs ``backward_params(dy)`` then returns ``backward_input(dy)`` for a layer
        that defines the halves, or follows the recorded calls of a module whose forward is a
        plain chain of its children. A layer without parameters overrides ``backward`` itself.
        """
        cls = type(self)
        if cls.backward_input is not Module.backward_input:
            # this call already holds its frame, so the halves run unwrapped (nested calls would
            # only pass through their wrappers)
            call_frames.unwrapped(cls.backward_params)(self, dy)
            return call_frames.unwrapped(cls.backward_input)(self, dy)
        if self._records_calls and self._modules:
            return _backward_through(call_frames.chain_of(self), dy, params_only=False)
        raise NotImplementedError(
            f"{type(self).__name__} does not implement backward(): a layer without parameters defines "
            "backward(dy) -> dx; a layer with parameters defines backward_params(dy) and "
            "backward_input(dy) -> dx"
        )

    def backward_input(self, dy: Any) -> Any:
        """The input half of ``backward``: returns dx, touches no parameter gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward_input()")

    def backward_params(self, dy: Any) -> None:
        """Accumulate the parameter gradients only; dx is not needed by the caller. Returns None.

        The default follows a recorded plain chain (skipping dx below the first child with
        parameters), else runs ``backward`` and drops dx, or does nothing for a module without
        parameters (still consuming its forward call).
        """
        if self._records_calls and self._modules:
            _backward_through(call_frames.chain_of(self), dy, params_only=True)
        elif _has_parameters(self):
            self.backward(dy)

    def _gives_input_gradients(self) -> bool:
        """Whether a backward of this module returns its inputs' gradients (what a Parameter input
        needs): a ``backward`` or ``backward_input`` of its class's own, or children to follow."""
        cls = type(self)
        if cls.backward is not Module.backward or cls.backward_input is not Module.backward_input:
            return True
        return bool(cls._records_calls and self._modules)

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.forward(*inputs, **kwargs)

    def discard_caches(self) -> None:
        """Drop every forward call still waiting for a backward, here and in every descendant."""
        call_frames.discard_all(self)

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
    # All of these are generators, as torch's: ``next(model.parameters())`` works, and a second pass
    # needs a second call (or ``list(...)``). A None slot (``self.b = None``) is never given.
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, child) for each direct child; a child held under two names once, under its first,
        as torch's (``_modules`` holds every name)."""
        memo: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in memo:
                memo.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """Each direct child once, as ``named_children``."""
        for _, child in self.named_children():
            yield child

    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, with dotted names (``prefix`` before them).

        A module held twice (``Sequential(a, ReLU(), a)``) comes once, under its first name, as
        torch's; ``remove_duplicate=False`` gives every name (``state_dict`` keeps them all).
        ``memo`` is torch's: the set of modules already given (and skipped), filled as they come.
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """This module and every descendant, as ``named_modules`` gives them, without the names."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """``fn(module)`` for every child's tree (children first), then ``fn(self)``; returns self.

        As ``torch.nn.Module.apply``: ``model.apply(init_weights)`` (a child held twice once).
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        """torch's ``_named_members``: a value held twice (a shared Parameter) once, at its first
        name, unless ``remove_duplicate`` is False; with it False, a shared module's names all come."""
        seen: set[int] = set()
        pairs = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                 else [(prefix, self)])
        for module_name, module in pairs:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for this module's own Parameters, then each child's (``recurse=False``:
        its own only); a shared one once, under its first name, unless ``remove_duplicate=False``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every Parameter, in layer order, weight before bias, a shared one once: a generator, as
        torch's (``list(model.parameters())`` to count or index them)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every buffer, as ``named_parameters`` gives Parameters."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        """Every buffer array (running statistics...), a shared one once: a generator, as torch's."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ----------------------------------------------------------------- state
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Every Parameter's grad to None; with ``set_to_none=False`` every written grad to zeros in
        place and a None grad left None, as torch (optimizers skip a None grad)."""
        for param in self.parameters():
            param.zero_grad(set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Switch this module and every descendant to training mode (or eval mode if False).

        As ``torch.nn.Module.train``: sets ``training`` here, then calls ``child.train(mode)`` for
        each child (so a subclass overriding ``train`` is obeyed); a mode that is not a bool is a
        ValueError.
        """
        if not isinstance(mode, (bool, np.bool_)):  # train("False") would be training mode
            raise ValueError(
                f"{type(self).__name__}.train: expected a bool mode, got {type(mode).__name__} {mode!r} "
                "(eval() is train(False))"
            )
        if self.training is not bool(mode):  # weights lent to one-row inference come back
            lent_weights.give_back(self._parameters.values())
        object.__setattr__(self, "training", bool(mode))
        for child in self.children():  # a child held twice once, as torch
            child.train(mode)  # each child's own train(), as torch: an override is honoured
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, *targets: Any, dtype: Any = None, device: Any = None) -> Module:
        """Cast every Parameter and floating buffer to a dtype, as ``torch.nn.Module.to``.

        ``model.to(np.float64)``, ``model.to("float32")``, ``model.to(torch.float64)`` cast;
        ``model.to("cpu")`` (or ``device="cpu"``) does nothing: MiniTorch runs on the CPU; any other
        device raises ValueError, a target that is not a floating dtype TypeError (``dtype=`` takes
        a dtype only, ``device=`` a device only; every argument is read before anything is cast).
        Optimizers built before the cast cast their state for the Parameters at their next step
        (and in ``state_dict()``).
        """
        who = f"{type(self).__name__}.to"
        check_cpu(device, who)
        casts = [dtype_or_cpu(target, who) for target in targets if target is not None]
        if dtype is not None:
            casts.append(float_dtype(dtype, who, any_float=True))
        for cast in casts:
            if cast is None:
                continue
            for param in self.parameters():
                param.to(cast)
            for module in self.modules():
                for name, buffer in list(module._buffers.items()):
                    if buffer is not None and buffer.dtype.kind == "f":
                        setattr(module, name, buffer.astype(cast))
        return self

    def double(self) -> Module:
        """``to(np.float64)``, as ``torch.nn.Module.double``."""
        return self.to(np.float64)

    def float(self) -> Module:
        """``to(np.float32)``, as ``torch.nn.Module.float``."""
        return self.to(np.float32)

    def cpu(self) -> Module:
        """Nothing to do (MiniTorch runs on the CPU); returns the module, as ``torch.nn.Module.cpu``."""
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every Parameter (False freezes them); returns the module.

        A frozen Parameter gets no gradient, so no optimizer update once its grad is None (as
        torch's, an optimizer steps a grad it still holds: the zeros of ``zero_grad(set_to_none=
        False)`` too); a model's backward skips the parameter gradients of modules that have no
        trainable Parameter.
        """
        check_requires_grad(requires_grad, f"{type(self).__name__}.requires_grad_")
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def state_dict(
        self, *, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """Name -> copy of the array, for every Parameter and persistent buffer (e.g. ``"0.W"``).

        As torch's, keywords only: ``prefix`` goes before every name (``prefix="model."`` gives
        ``"model.0.W"``), ``destination`` is a dict filled and returned instead of a new one, and
        ``keep_vars=True`` gives the Parameters themselves and the buffer arrays themselves instead
        of copies. A shared module comes under each of its names; a None slot never comes.
        (torch's values share their tensors' memory; MiniTorch's are copies unless ``keep_vars``.)
        """
        who = f"{type(self).__name__}.state_dict"
        if destination is None:
            destination = {}
        elif not isinstance(destination, MutableMapping):
            raise TypeError(
                f"{who}: expected destination to be a dict (or None), got {type(destination).__name__}"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"{who}: expected a str prefix, got {type(prefix).__name__} {prefix!r}")
        keep_vars = check_requires_grad(keep_vars, f"{who}(keep_vars=...)")
        for name, (_, _, value) in self._state_slots().items():
            if keep_vars:
                destination[prefix + name] = value
            else:
                destination[prefix + name] = np.array(data_of(value), copy=True)
        return destination

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Load ``state_dict`` into the Parameters and buffers; returns (missing_keys, unexpected_keys).

        ``state_dict`` is a dict or any other Mapping (``types.MappingProxyType``...), as torch's;
        it is read once, into a dict, before anything changes. Keys are MiniTorch's (``"0.W"``) or
        PyTorch's for the same model (``"0.weight"`` of a Linear, given (out, in) and transposed into
        W; the names in ``TORCH_STATE_NAMES``), or a mix;
        values are arrays, Parameters or CPU torch tensors. With ``strict=True`` (the default) every
        name must match (ValueError otherwise); with ``strict=False`` the matching names are loaded and
        the others reported in the result, as PyTorch's ``load_state_dict`` (missing names in PyTorch's
        spelling when ``state_dict`` used PyTorch's names). Every name, shape and dtype is checked
        before anything changes: on error the module is exactly as before (torch's ``assign=True``
        may stop half-way; MiniTorch never does).

        ``assign=False``: values are cast to each target's dtype and copied into its array, as torch's
        ``copy_``, so an optimizer's Parameters stay the model's; a float loaded into an integer
        buffer (BatchNorm's ``num_batches_tracked``) is truncated toward zero (3.7 -> 3), and nan,
        +-inf and values beyond the integer type are refused (torch writes an undefined number).
        ``assign=True`` (torch's): each value becomes the
        Parameter's data (a new Parameter, with the old one's ``requires_grad``; a Parameter given as
        the value is used itself) or the buffer, without a copy, keeping the value's dtype (floating
        for a Parameter or a floating buffer). An optimizer built before still holds the old
        Parameters, which are no longer the model's: build it after (as torch's warning says). A
        Parameter held under several names (tied, or in a shared module) stays one Parameter, so its
        values must be equal.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"{who}: state_dict must be a dict or another Mapping, got "
                             f"{type(state_dict).__name__} {state_dict!r:.60}")
        state_dict = dict(state_dict)  # a Mapping read once: a failing read changes nothing
        strict = check_requires_grad(strict, f"{who}(strict=...)")
        assign = check_requires_grad(assign, f"{who}(assign=...)")
        slots = self._state_slots()
        targets = {name: data_of(value) for name, (_, _, value) in slots.items()}
        state, spelled = _our_names(self, state_dict, targets)
        missing = [spelled.get(name, name) for name in targets if name not in state]
        unexpected = [name for name in state if name not in targets]
        if strict and (missing or unexpected):
            raise ValueError(
                f"{who}: names do not match the model; missing {missing}, unexpected {unexpected} "
                "(strict=False loads the names that match)"
            )
        values = {}
        for name, target in targets.items():
            if name not in state:
                continue
            value = _as_array(state[name], who, name)
            if value.shape != target.shape:
                raise ValueError(f"{who}: '{name}' expected shape {target.shape}, got {value.shape}")
            if assign:
                check_assignable(value, target, who, name)
            else:
                _check_loadable(value, target, who, name)
            values[name] = value
        if assign:
            assign_state(slots, {name: state[name] for name in values}, values, who)
        else:
            for name, value in values.items():
                np.copyto(targets[name], value, casting="unsafe")  # every pair checked by _check_loadable
        return IncompatibleKeys(missing, unexpected)

    def _state_slots(self) -> dict[str, tuple[Module, str, Any]]:
        """Every ``state_dict`` name -> (the module holding it, its attribute name, the Parameter or
        buffer array), in torch's order: a module's Parameters, its persistent buffers, then each
        child's (a shared module under each of its names)."""
        slots: dict[str, tuple[Module, str, Any]] = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            dotted = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    slots[dotted + name] = (module, name, param)
            for name, buffer in _persistent_buffers(module):
                slots[dotted + name] = (module, name, buffer)
        return slots

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



# Module's own methods are wrapped too, so that a subclass inheriting them consumes its frames.
Module.forward = call_frames.forward_call(Module.forward)  # type: ignore[method-assign]
Module.backward = call_frames.backward_call(Module.backward)  # type: ignore[method-assign]
Module.backward_params = call_frames.backward_call(Module.backward_params)  # type: ignore[method-assign]
Module.backward_input = call_frames.backward_call(Module.backward_input)  # type: ignore[method-assign]


@contextmanager
def switched_mode(model: Module, training: bool) -> Iterator[Module]:
    """Put ``model`` in training (or eval) mode, then give every submodule its own mode back. A
    switch to eval mode that changes a mode runs inside ``lent_weights.kept()``: the weights keep
    their layout (no copy each way, the one-row inference plan stays)."""
    saved = [(module, module.training) for module in model.modules()]
    keep = not training and any(mode for _, mode in saved)
    with lent_weights.kept() if keep else nullcontext():
        model.train(training)
        try:
            yield model
        finally:
            for module, mode in saved:  # parents first, so a child's own mode wins
                module.train(mode)


def _persistent_buffers(module: Module) -> list[tuple[str, np.ndarray]]:
    """The (name, array) of the buffers ``state_dict`` holds: not those registered ``persistent=False``."""
    transient = module.__dict__.get("_non_persistent", ())
    return [(name, buffer) for name, buffer in module._buffers.items()
            if buffer is not None and name not in transient]


def _check_new_name(module: Module, name: object, registry: dict[str, Any], who: str) -> None:
    """torch's checks of a name given to add_module / register_parameter."""
    if not isinstance(name, str):
        raise TypeError(f"{who}: expected a str name, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{who}: expected a non-empty name without '.', got {name!r}")
    if name not in registry and hasattr(module, name):
        raise KeyError(f"{who}: '{name}' is already an attribute of {type(module).__name__}")


def _refuse_view(module: Module, name: str) -> None:
    """TypeError: a Linear's ``weight`` (a view of its W, not a Parameter of its own) cannot be
    registered: the optimizer would step W twice, once through the view. torch's ``m.x = lin.weight``
    ties m to the Linear; here one Parameter cannot be W (in, out) and (out, in) at once."""
    raise TypeError(
        f"{type(module).__name__}: cannot register '{name}' = a Linear's weight: Linear.weight is a "
        "transposed view of its Parameter W (in, out), not a Parameter of its own, and registered it "
        "would be stepped twice. To tie two Linears, assign linear_b.weight = linear_a.weight (or "
        "linear_b.W = linear_a.W); to tie an output layer to an Embedding, compute logits = "
        "h @ emb.weight.data.T in your module's forward and accumulate emb.weight.grad "
        "(emb.weight.accumulate_grad(dlogits.T @ h)) in its backward, as examples/gpt.py does"
    )


def _refuse_parameter_view(module: Module, name: str) -> None:
    """TypeError: ``p[index]``, ``p.T``, ``p.reshape(...)`` (a ``ParameterView``) is not a Parameter
    of its own: registered it would be a second, untrained copy of part of p (torch registers only
    an ``nn.Parameter``, and a view taken once would not follow a replaced ``p.data``)."""
    raise TypeError(
        f"{type(module).__name__}: cannot register '{name}' = a view of a Parameter (p[index], p.T, "
        "p.mT or p.reshape(...)): it is not a Parameter of its own. Register p itself and take the view "
        f"in forward (self.child(self.p[:2])), or assign '{name}' a Parameter"
    )


def owned(param: Parameter) -> bool:
    """Whether a live module has ``param`` registered now (a tie assigned from it would be torch's)."""
    for ref in _owners.get(param, ()):
        owner = ref()
        if owner is not None and any(p is param for p in owner._parameters.values()):
            return True
    return False


def _has_parameters(module: Module) -> bool:
    """Whether ``module`` or a descendant has a trainable Parameter (``requires_grad``)."""
    return (any(p.requires_grad for p in module._parameters.values() if p is not None)
            or any(_has_parameters(child) for child in module._modules.values() if child is not None))


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not load, as PyTorch's result: two lists of names."""

    missing_keys: list[str]
    unexpected_keys: list[str]


TORCH_STATE_NAMES: dict[type, dict[str, tuple[str, bool]]] = {}
"""Layer class -> {our state name: (PyTorch's name, stored transposed there)}, for the layers whose
names differ (Linear: W -> weight transposed, b -> bias). Filled when ``minitorch/interop/layer_table.py``
(the conversion rules) is imported; ``import minitorch`` imports the ``interop`` package, which imports
it, and importing any ``minitorch`` file runs that first, so the table is full before any model exists."""

TORCH_LAYOUT: dict[type, frozenset[str]] = {}
"""Layer class -> the names of its Parameters NOT stored in PyTorch's layout (Linear: {"W"}), for
every layer class ``interop/layer_table.py`` lists (``LAYERS`` and ``ATTENTION_LAYERS``);
``minitorch.init`` reads it for torch's fans. Filled by that file, as ``TORCH_STATE_NAMES``."""


def _our_names(
    model: Module, state: dict[str, Any], targets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``state`` with PyTorch's names of our layers' arrays renamed (and transposed) to ours, and
    {our name: PyTorch's} for the model's arrays when ``state`` used a PyTorch name (else {}).

    Only names that are not already ours are looked at; the renaming rules are ``TORCH_STATE_NAMES``.
    """
    foreign = [name for name in state if name not in targets]
    if not foreign:
        return state, {}
    theirs: dict[str, tuple[str, bool]] = {}  # torch name -> (our name, transposed)
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        for ours, (torch_name, transposed) in TORCH_STATE_NAMES.get(type(module), {}).items():
            theirs[prefix + torch_name] = (prefix + ours, transposed)
    renamed, used = dict(state), False
    for name in foreign:
        if name in theirs and theirs[name][0] not in state:
            ours, transposed = theirs[name]
            value = renamed.pop(name)
            if transposed:
                value = _as_array(value, f"{type(model).__name__}.load_state_dict", name).T
            renamed[ours], used = value, True
    return renamed, ({ours: torch_name for torch_name, (ours, _) in theirs.items()} if used else {})


def _check_loadable(value: np.ndarray, target: np.ndarray, who: str, name: str) -> None:
    """ValueError unless ``value`` casts into ``target`` as torch's ``copy_`` does, exactly.

    A numeric value casts "same_kind" (float64 into float32, an int or a bool into a float); an
    integer target also takes floats, truncated toward zero as torch's, when every truncated value
    fits its type (nan, +-inf and out-of-range values have no defined result in torch).
    """
    kind = target.dtype.kind
    if value.dtype.kind not in "biuf" or not (
        np.can_cast(value.dtype, target.dtype, "same_kind") or (kind in "iu" and value.dtype.kind == "f")
    ):
        raise ValueError(
            f"{who}: '{name}' expected a numeric array castable to {target.dtype}, got dtype {value.dtype}"
        )
    if kind not in "iu" or value.size == 0 or value.dtype.kind == "b":
        return
    info = np.iinfo(target.dtype)
    whole = np.trunc(value.astype(np.float64)) if value.dtype.kind == "f" else value  # float16 holds no 2**63
    # float(info.max + 1) is exact (a power of 2); float(info.max) would round up to it
    fits = np.isfinite(whole) & (whole >= info.min) & (whole < float(info.max + 1)) \
        if value.dtype.kind == "f" else (whole >= info.min) & (whole <= info.max)
    if not fits.all():
        raise ValueError(
            f"{who}: '{name}' is {target.dtype} and takes whole numbers in [{info.min}, {info.max}] "
            f"(a float is truncated toward zero, as torch's copy_), got {value[~fits].flat[0].item()!r}"
        )


def _as_array(value: Any, who: str, name: str) -> np.ndarray:
    """An array from an array-like or a (CPU) torch tensor."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, without importing torch
        try:
            return value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as err:
            raise ValueError(f"{who}: '{name}' could not be read as a NumPy array ({err})") from None
    return np.asarray(value)


def _backward_through(modules: list[Module], dy: Any, params_only: bool) -> Any:
    """Backward through modules called as a chain, last first; dx, or None if ``params_only``.

    With ``params_only`` the first module with parameters runs ``backward_params`` and the
    parameter-free modules before it are not run (their dx would only reach the data): their
    waiting forward calls are dropped instead.
    """
    if not params_only:
        for module in reversed(modules):
            dy = module.backward(dy)
        return dy
    first = next((i for i, module in enumerate(modules) if _has_parameters(module)), len(modules))
    if first and _waits_with_leaves(modules[0]):  # the chain's input is a leaf: it needs its gradient
        first = 0
    for module in reversed(modules[first + 1 :]):
        dy = module.backward(dy)
    if first < len(modules):
        modules[first].backward_params(dy)
    for module in reversed(modules[:first]):
        call_frames.discard_newest(module)
    return None


def _waits_with_leaves(module: Module) -> bool:
    """Whether the call of ``module`` a backward would consume now took a Parameter input (a leaf,
    ``minitorch.leaf_inputs``); a module without frames (Sequential) answers for its first child."""
    stack = module.__dict__["_stack"]
    if stack:
        return LEAVES in stack[-1]
    if type(module).__dict__.get("_per_call_frames", True) or not module._modules:
        return False
    first = next(iter(module._modules.values()))
    return first is not None and _waits_with_leaves(first)


__all__ = ["IncompatibleKeys", "Module", "Parameter", "switched_mode"]
