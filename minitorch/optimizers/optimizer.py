"""The Optimizer base: parameter groups, per-Parameter state, state_dict, and in-place update helpers.

Parameters are held in ``param_groups`` (a list of dicts, each with its ``"params"`` and its own
hyper-parameters such as ``"lr"``), so per-group settings and schedulers work as in PyTorch.
Every number setting (lr, momentum, betas, eps, weight_decay...) is a number or a 0-d float64 NumPy
array (``lr=np.array(0.01)``, as torch takes a 0-d tensor), under one rule, ``check_value``: each
group keeps its own copy of an array, which ``state_dict()`` copies and the schedulers update in
place (torch's ``fill_``), and the update reads it as its float. Changing the array you passed
afterwards does not reach the optimizer (torch's group holds your tensor itself): write
``opt.param_groups[i]["lr"]`` instead. Other arrays (float32, integer, another shape, a torch tensor)
and NumPy float scalars other than float64 (``np.float32(0.01)``) are refused at once, naming the
setting, what came and the fix.
``maximize=True`` (every optimizer, keyword-only as in torch) ascends: the update negates the
gradient first, so L2 weight decay, momentum and the moments all see -grad, as in torch's
``_single_tensor_*`` forms (a decoupled decay shrinks p as without it).
A Parameter whose ``grad is None`` (no gradient since ``zero_grad()``) is skipped, as in PyTorch:
it is not updated and its state (step count, moments) does not advance. As in PyTorch, that is the
only test: a frozen Parameter (``requires_grad`` False, which no backward writes a gradient into)
is skipped once its grad is None, and stepped while it holds one (the zeros of
``zero_grad(set_to_none=False)``: weight decay, momentum and moments still move it).
After ``model.to(dtype)`` the state of each cast Parameter is cast to its new dtype at the next
``step()`` (or ``state_dict()``), and so is that of a Parameter given an array of another dtype
(``p.data = p.data.astype(np.float64)``).
torch's implementation choices, ``foreach``, ``fused``, ``capturable`` and ``differentiable``, are
group settings of each optimizer whose torch class has them, taken by its constructor (keyword-only)
and kept by ``state_dict`` as torch keeps them, so a torch 2.13 ``state_dict()`` loads as it is
(``implementation_settings``). On the CPU they choose among torch's kernels for the same update,
and MiniTorch computes it one way: ``foreach`` (None, True, False) and ``fused`` (SGD, Adam, AdamW,
Adagrad: torch has CPU kernels) change nothing; ``capturable=True`` (a CUDA-graph step, which torch
2.13 refuses at the step for CPU parameters) is refused; ``differentiable=True`` is refused by a
constructor (MiniTorch does not differentiate through an update, and torch's step with it refuses
Parameters, which are leaves) and taken in a loaded group (torch steps that group as any other).
``step()`` first checks that no module owning one of the Parameters still has a forward call
waiting for its backward, then that every Parameter it updates (one with a gradient) holds a
writable array: a read-only one (``flags.writeable = False``, a read-only memory map or buffer)
raises a ValueError naming it and the fix before anything is written or any state changes.

Updates are in place and in each Parameter's dtype. Each update rule is a plain function beside its
class (``sgd``, ``adam``...); accelerated versions live in ``minitorch/kernels/optimizers.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from minitorch import module as module_registry
from minitorch.checks import check_bool, check_number, check_sequence, read_only_error
from minitorch.module import Parameter
from minitorch.parameter_views import ParameterView

Params = Iterable[Parameter] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: holds ``param_groups`` and per-Parameter ``state``; subclasses define ``step``.

    ``state[p]`` is a dict named as PyTorch names it (``momentum_buffer``, ``exp_avg``, ``step``...);
    ``state_names`` lists the names a subclass may keep. ``state_dict()`` / ``load_state_dict()``
    use torch's layout: Parameters are numbered across groups in order.
    Each number setting, ``lr`` included, is a number or, as torch's 0-d tensor, a 0-d float64 array
    (``np.array(0.01)``; ``check_value``): each group keeps its own copy, state_dict() round trips
    it, schedulers write into an lr array in place.
    """

    state_names: tuple[str, ...] = ()
    # settings a state_dict saved before the setting existed may lack, with the value that applied
    # then: the ones the torch class's ``__setstate__`` (run by its load_state_dict) fills in with a
    # default when absent, among those this class has (each subclass lists its own; the
    # implementation choices, IMPLEMENTATION_DEFAULTS, are filled for all); a group lacking any
    # other setting is refused, as torch's step would fail on it
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False}  # (torch's Adagrad.__setstate__)

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Parameter, dict[str, Any]] = {}
        self._owner_cache: tuple[int, list[Any]] = (-1, [])  # (registrations seen, modules owning our params)
        if isinstance(params, (Parameter, dict)):
            raise TypeError(
                f"{type(self).__name__}: expected an iterable of Parameters or of dicts, "
                f"got a single {type(params).__name__}"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of Parameters; settings it does not give come from the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: expected Parameters (e.g. model.parameters()), "
                    f"got {type(p).__name__}"
                )
            if isinstance(p, ParameterView):  # its grad stays None: the gradient goes to its base
                raise ValueError(
                    f"{type(self).__name__}: can't optimize a view of a Parameter (p[index], p.T, p.mT, "
                    "p.reshape(...)); give the optimizer the Parameter p itself (as torch refuses a "
                    "non-leaf tensor)"
                )
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a Parameter appears more than once")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown settings {sorted(unknown)}; "
                f"expected some of {sorted(self.defaults)}"
            )
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)  # (an array setting: the group's own copy, check_setting)
        self.param_groups.append(full)
        self._owner_cache = (-1, [])

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyper-parameters (subclasses check theirs too)."""
        check_setting(group, "lr", type(self).__name__, 0)
        for name in IMPLEMENTATION_DEFAULTS.keys() & self.defaults.keys():
            check_implementation(group[name], type(self).__name__, name)
        if group.get("fused") and group.get("foreach"):
            raise ValueError(f"{type(self).__name__}: fused and foreach cannot be True together (as torch "
                             "refuses them); they choose among torch's kernels for the same update")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _checked_step(cls.__dict__["step"])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Every Parameter's grad to None (``set_to_none=False``: written grads to zeros, None kept)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad(set_to_none)

    def _check_no_waiting_forward(self) -> None:
        """RuntimeError if a module owning one of our Parameters has a forward waiting for a backward.

        Such a gradient may belong to the wrong call (a second forward before backward) or lack
        a term. The owners are looked up again only when a Parameter was registered somewhere.
        """
        registrations = module_registry._registrations[0]
        if self._owner_cache[0] != registrations:
            owners = {}
            for group in self.param_groups:
                for p in group["params"]:  # (a view, Linear's ``weight``: its base's owners)
                    for ref in module_registry._owners.get(getattr(p, "base", p), ()):
                        owner = ref()
                        if owner is not None:
                            owners[id(owner)] = owner
            self._owner_cache = (registrations, list(owners.values()))
        for owner in self._owner_cache[1]:
            waiting = len(owner.__dict__["_stack"])
            if waiting:
                raise RuntimeError(
                    f"{type(self).__name__}.step: {type(owner).__name__}({owner.extra_repr()}) has {waiting} "
                    "forward call(s) whose backward never ran, so the gradients may belong to another "
                    "call. Run forward passes you do not backpropagate (evaluation, logging) under "
                    "`with mt.no_grad():`, and one backward per forward; model.discard_caches() drops "
                    "the waiting calls"
                )

    def _check_writable(self) -> None:
        """ValueError, before anything changes, if a Parameter the step updates (one with a
        gradient) holds a read-only array: the update writes ``p.data`` in place, and a new array
        would not be the one the model shares. One flags read per Parameter (the gradient is read
        only for a read-only one: a deferred product stays deferred)."""
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if not p.data.flags.writeable and p.grad is not None:
                    raise read_only_error(
                        f"{type(self).__name__}.step: param_groups[{g}]['params'][{i}] (a Parameter of shape "
                        f"{p.data.shape})", "a step", "p.data = p.data.copy()"
                    )

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _params_with_grad(self, group: dict[str, Any]) -> list[Parameter]:
        """The group's Parameters with a gradient (``p.grad is not None``), as a new list: as torch's,
        frozen ones too (``requires_grad`` is not read: a frozen Parameter's grad is None after
        ``zero_grad()``, zeros after ``zero_grad(set_to_none=False)``, which torch steps).

        Each gradient has its Parameter's shape: ``p.grad`` takes no other (as torch's), but
        ``p.data`` may be given another shape after the gradient was written (torch's step fails
        then), and an update would broadcast a (1,) gradient over every element."""
        params = [p for p in group["params"] if p.grad is not None]
        for p in params:
            if np.shape(p.grad) != np.shape(p.data):
                raise ValueError(
                    f"{type(self).__name__}.step: a Parameter of shape {np.shape(p.data)} has a grad of "
                    f"shape {np.shape(p.grad)}; expected the Parameter's shape (assign p.grad an array like "
                    f"p.data)"
                )
        return params

    def _states_of(self, params: list[Parameter], group: dict[str, Any], *,
                   count_step: bool) -> list[dict[str, Any]]:
        """Each Parameter's state, in the order of ``params``: on its first update step 0 plus
        ``_fresh_state``; with ``count_step`` its step is counted here, so the update reads this step's t."""
        states = []
        for p in params:
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state.update(self._fresh_state(p, group))
            if count_step:
                state["step"] += 1
            states.append(state)
        return states

    def _fresh_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        """A Parameter's state before its first update, but its step: zeros for each array it needs."""
        return {name: np.zeros_like(p.data) for name in self._required_state(group) if name != "step"}

    def _match_state_dtypes(self) -> None:
        """Cast each Parameter's state arrays to its dtype where they differ.

        ``model.to(np.float64)`` after the optimizer was built: without this, Adam's moments would
        stay float32 and quietly round every float64 update. Every step looks (about 0.3 us a
        Parameter): a cast by ``p.data = p.data.astype(np.float64)``, PyTorch's habit, is not
        seen by ``Parameter.to``'s count of casts.
        """
        for p, entry in self.state.items():
            dtype = p.data.dtype
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.dtype != dtype:
                    entry[name] = value.astype(dtype)

    # ----------------------------------------------------------------- state_dict
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: copy}}, "param_groups": [{...settings, "params": [indices]}]}.

        Parameters are numbered 0, 1, ... across the groups in order, as torch does. Values are
        NumPy arrays (copies), ints, floats, bools and tuples, so the dict can go into a file.
        """
        self._match_state_dtypes()
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        state = {
            index[id(p)]: {name: _copy(value) for name, value in entry.items()}
            for p, entry in self.state.items()
            if entry
        }
        groups = [
            {**{k: _copy(v) for k, v in g.items() if k != "params"},
             "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore settings and state from ``state_dict()``'s output; arrays are copied.

        ``state_dict`` and its ``'state'`` are each a dict or any other Mapping
        (``types.MappingProxyType``...), as torch's, each read once into a dict; one Parameter's
        state and one param_group are dicts (torch fails on other Mappings there).
        Everything is checked (group count, Parameter counts, names, shapes) before anything
        changes: on error the optimizer is exactly as before. Settings come from the dict, as in
        torch; arrays take each Parameter's dtype.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"{who}: state_dict must be a dict or another Mapping with keys 'state' and "
                             f"'param_groups', got {type(state_dict).__name__} {state_dict!r:.60}")
        state_dict = dict(state_dict)  # each Mapping read once: a failing read changes nothing
        if set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{who}: expected a state_dict with keys 'state' and 'param_groups', "
                             f"got keys {sorted(map(str, state_dict))}")
        saved_groups = check_sequence(state_dict["param_groups"], who, "state_dict['param_groups']")
        if not isinstance(state_dict["state"], Mapping):
            raise ValueError(f"{who}: state_dict['state'] must be a dict or another Mapping, got "
                             f"{type(state_dict['state']).__name__} {state_dict['state']!r:.60}")
        saved_state = dict(state_dict["state"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{who}: expected {len(self.param_groups)} parameter groups, got {len(saved_groups)}"
            )
        groups, by_index = [], {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            groups.append(self._loaded_group(who, i, group, saved))
            by_index.update(zip(saved["params"], group["params"], strict=True))
        if len(by_index) != sum(len(g["params"]) for g in self.param_groups):
            raise ValueError(f"{who}: a parameter index appears more than once in param_groups")
        group_of = {id(p): new for new in groups for p in new["params"]}
        state = {}
        for key, entry in saved_state.items():
            if key not in by_index:
                raise ValueError(f"{who}: state for parameter {key!r}, which no group lists")
            p = by_index[key]
            state[p] = self._loaded_state(f"{who}: parameter {key}", p, group_of[id(p)], entry)
        for group, new in zip(self.param_groups, groups, strict=True):
            group.clear()
            group.update(new)
        self.state = state

    def _loaded_group(self, who: str, i: int, group: dict[str, Any], saved: Any) -> dict[str, Any]:
        if not isinstance(saved, dict) or "params" not in saved:
            raise ValueError(f"{who}: param_groups[{i}] is not a dict with a 'params' key")
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(
                f"{who}: param_groups[{i}] expected {len(group['params'])} parameters, "
                f"got {len(saved['params'])}"
            )
        if isinstance(saved, dict):  # (a file of an older version: its settings' values then)
            filled = {**IMPLEMENTATION_DEFAULTS, **self.added_settings}
            saved = {**saved, **{k: v for k, v in filled.items() if k in self.defaults and k not in saved}}
        settings = set(saved) - {"params"}
        missing = set(self.defaults) - settings
        unknown = settings - set(self.defaults) - {"initial_lr"}
        if missing or unknown:
            raise ValueError(
                f"{who}: param_groups[{i}] settings do not match {type(self).__name__}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        new = {**{k: _copy(v) for k, v in saved.items() if k != "params"}, "params": group["params"]}
        self._check_group(new)
        if "initial_lr" in new:  # a scheduler's record of the starting lr
            check_lr(new["initial_lr"], who, f"param_groups[{i}]['initial_lr']")
        return new

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The state names every Parameter of ``group`` has once it has state at all."""
        return ()

    def _loaded_state(self, who: str, p: Parameter, group: dict[str, Any], entry: Any) -> dict[str, Any]:
        if not isinstance(entry, dict):
            raise ValueError(f"{who}: expected a dict of state, got {type(entry).__name__}")
        unknown = set(entry) - set(self.state_names)
        missing = set(self._required_state(group)) - set(entry) if entry else set()
        if unknown or missing:
            raise ValueError(
                f"{who}: state names do not match {type(self).__name__}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        loaded: dict[str, Any] = {}
        for name, value in entry.items():
            value = np.asarray(value)
            if name == "step":
                if value.shape != () or value.dtype.kind not in "iuf" or not (
                        np.isfinite(value) and value >= 0 and value == int(value)):
                    raise ValueError(f"{who}: expected 'step' a non-negative integer, got {value!r}")
                loaded[name] = int(value)
            elif value.shape != p.shape or value.dtype.kind not in "iuf":
                raise ValueError(
                    f"{who}: '{name}' expected a numeric array of shape {p.shape}, "
                    f"got shape {value.shape}, dtype {value.dtype}"
                )
            else:
                loaded[name] = np.array(value, dtype=p.dtype, copy=True)
        return loaded

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in group.items() if key != "params"]
        return "\n".join(lines) + "\n)"


# torch's implementation choices and the values its ``__setstate__`` fills in when a saved group
# lacks one (SGD's fused: False, its own ``added_settings``); each optimizer has those its torch
# class has, in the group, so that torch's state_dict loads and MiniTorch's round trips into torch
IMPLEMENTATION_DEFAULTS: dict[str, Any] = {"foreach": None, "capturable": False, "differentiable": False,
                                           "fused": None}


def implementation_settings(who: str, **choices: Any) -> dict[str, Any]:
    """The constructor's ``foreach``/``capturable``/``differentiable``/``fused`` (those its torch class
    takes) as group settings, checked (``check_implementation``) and, as a constructor's,
    ``differentiable=True`` refused: torch's step with it runs under autograd, which refuses to
    update a Parameter (a leaf) in place, and MiniTorch has no autograd through an update."""
    for name, value in choices.items():
        check_implementation(value, who, name)
    if choices.get("differentiable"):
        raise ValueError(
            f"{who}: differentiable=True is not supported: it lets torch differentiate through the update "
            "(its step then refuses Parameters, which are leaves); MiniTorch's update is not differentiated: "
            "pass differentiable=False (the update is the same)"
        )
    return choices


def check_implementation(value: object, who: str, name: str) -> None:
    """One implementation choice: ``foreach``/``fused`` None, True or False, ``capturable`` False,
    ``differentiable`` True or False, else a ValueError naming it, what came and the fix. On the
    CPU each picks among torch's kernels for the same update, which MiniTorch computes one way;
    ``capturable=True`` is a CUDA-graph step, which torch 2.13 refuses for CPU parameters at the step."""
    if name in ("foreach", "fused"):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{who}: {name} must be None, True or False, got {value!r}")
        return
    check_bool(value, who, name)
    if name == "capturable" and value:
        raise ValueError(
            f"{who}: capturable=True is not supported: it makes torch's step capturable in a CUDA graph, "
            "and torch 2.13 refuses it for CPU parameters at the step; MiniTorch runs on the CPU with the "
            "same update: pass capturable=False (in a saved state_dict, set each param_groups' "
            "'capturable' to False)"
        )


def _checked_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` preceded by the checks that no forward call waits for its backward and that every
    array it writes is writable (both before anything changes)."""

    @functools.wraps(step)
    def checked_step(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        self._check_no_waiting_forward()
        self._check_writable()
        self._match_state_dtypes()
        return step(self, *args, **kwargs)

    return checked_step


def check_value(value: object, who: str, name: str, low: float = -math.inf, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> float:
    """The one rule for every number setting: ``value`` as a Python float if it is a number in the
    interval (``check_number``) or a 0-d float64 array holding one (torch's 0-d tensor), else a
    ValueError naming the setting, what came and the fix.

    A 0-d float64 array is read as its float, and torch 2.13's results with a 0-d float64 tensor are
    its float results, bit for bit, but for betas, NAdam's momentum_decay and Adagrad's lr_decay,
    which it computes partly in tensor arithmetic (``beta**step`` by its pow kernel): they differ
    from its float results in the last bits, as MiniTorch's float results do from torch's.
    Refused: a float32 0-d array (torch computes parts of the update in float32 then: Adam's,
    AdamW's, NAdam's and Adagrad's lr, AdamW's weight_decay, SGD's dampening... move float64
    parameters by ~1e-5 relative from the float's update, which MiniTorch, reading the float, would
    not follow), another shape (torch fails at the step, or squeezes), an integer dtype, a torch tensor,
    and as the float32 array a NumPy float32 scalar (``np.float32(0.01)``; any NumPy float but
    float64, which is a Python float): torch 2.13 computes partly in float32 with it too (Adam's lr,
    SGD's dampening, NAdam's betas... ~1e-7 relative from its float results for float64
    parameters), and its Adam and AdamW refuse np.float32 betas.
    """
    narrow_scalar = isinstance(value, np.floating) and not isinstance(value, float)
    if isinstance(value, np.ndarray) or type(value).__name__ == "Tensor" or narrow_scalar:
        shape, dtype = tuple(np.shape(value)), getattr(value, "dtype", None)
        if not isinstance(value, np.ndarray) or shape != () or dtype != np.float64:
            raise ValueError(
                f"{who}: {name} given as {type(value).__name__} of shape {shape}, dtype {dtype} is not "
                f"supported: {_why_not(value, shape, dtype)}; pass float({name})"
            )
        value = value.item()
    return check_number(value, who, name, low, high, low_open=low_open, high_open=high_open)


def check_lr(value: object, who: str, name: str) -> float:
    """An lr (a scheduler's too) by ``check_value``'s rule: a number >= 0 or a 0-d float64 array."""
    return check_value(value, who, name, 0)


def check_setting(group: dict[str, Any], name: str, who: str, low: float = -math.inf,
                  high: float = math.inf, *, high_open: bool = False) -> None:
    """Check ``group[name]`` (lr, momentum, eps, weight_decay...) by ``check_value``'s rule; a 0-d
    float64 array is replaced by a copy, so each group keeps its own (``state_dict()`` copies it,
    a schedule writes a group's lr in place) and the array you passed is never written."""
    value = group[name]
    check_value(value, who, name, low, high, high_open=high_open)
    if isinstance(value, np.ndarray):
        group[name] = value.copy()


def _why_not(value: Any, shape: tuple[int, ...], dtype: Any) -> str:
    if not isinstance(value, (np.ndarray, np.floating)):
        return "MiniTorch takes NumPy settings"
    if shape == () and dtype == np.float32:
        return ("torch computes partly in float32 with a float32 setting, MiniTorch in float64: give a "
                "float64 array, as np.array(0.9)")
    return "it must be a 0-d float64 array (torch's 0-d tensor), as np.array(0.9)"


def check_betas(group: dict[str, Any], who: str) -> None:
    """``betas``: a pair of numbers in [0, 1), each maybe a 0-d float64 array (``check_value``)."""
    betas = group["betas"]
    if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
    pair = {"betas[0]": betas[0], "betas[1]": betas[1]}
    for name in pair:
        check_setting(pair, name, who, 0, 1, high_open=True)
    group["betas"] = tuple(pair.values())  # the arrays: each group's own copies


def check_betas_alike(betas: Any, who: str) -> None:
    """The constructor's ``betas`` are both arrays or neither, else a ValueError, as torch's Adam and
    AdamW check their constructor's (a schedule may later set beta1 alone: not checked then)."""
    if isinstance(betas, (tuple, list)) and len(betas) == 2:
        arrays = [isinstance(beta, np.ndarray) for beta in betas]
        if arrays[0] != arrays[1]:
            raise ValueError(
                f"{who}: betas must be both numbers or both 0-d arrays, as torch's {who} asks, got "
                f"{type(betas[0]).__name__} and {type(betas[1]).__name__}; pass (float(beta1), float(beta2))"
            )


def _copy(value: Any) -> Any:
    if isinstance(value, tuple):  # betas, maybe holding arrays
        return tuple(_copy(item) for item in value)
    return value.copy() if isinstance(value, np.ndarray) else value
