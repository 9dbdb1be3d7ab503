"""Test the tester: each registry-wide contract test (tests/test_contract_registry.py) fails on a
layer that breaks its promise. Each mutant below patches one class for one test (monkeypatch puts it
back) and runs the registry test on one case; the test must fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_contract_registry as registry
from test_losses import LOSS_CASES

import minitorch as mt
from minitorch import call_frames
from minitorch.kernels import containers, pool
from minitorch.losses.regression import MSELoss

FAILED = (AssertionError, pytest.fail.Exception)  # an assert, or pytest.raises finding no error


@pytest.fixture(autouse=True)
def float64():
    mt.set_default_dtype(np.float64)
    kernels = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(False)  # the mutants patch the plain methods
    yield
    mt.kernels.use_kernels(kernels)
    mt.set_default_dtype(np.float32)


def _case(name):
    return next(args for case_id, args in zip(registry.IDS, registry.ARGS, strict=True) if case_id == name)


def _tanh(x):
    return np.tanh(np.asarray(x, dtype=float))


def _shared_cache(mp):
    """Tanh keeps its output in a dict mutated in place: the per-call frame never sees it."""
    def forward(self, x):
        self.__dict__.setdefault("_held", {})["y"] = y = _tanh(x)
        return y
    mp.setattr(mt.Tanh, "forward", call_frames.forward_call(forward))
    backward = call_frames.backward_call(lambda self, dy: dy * (1 - self._held["y"] ** 2))
    mp.setattr(mt.Tanh, "backward", backward)


def _unframed(mp):
    """Tanh keeps its output in a public slot and its backward consumes no forward call."""
    def forward(self, x):
        self.out = _tanh(x)
        return self.out
    mp.setattr(mt.Tanh, "forward", call_frames.forward_call(forward))
    mp.setattr(mt.Tanh, "backward", lambda self, dy: dy * (1 - self.out ** 2))


def _anonymous(mp):
    """Tanh's second backward raises, without naming the module."""
    def forward(self, x):
        self.out = _tanh(x)
        return self.out

    def backward(self, dy):
        if self.out is None:
            raise RuntimeError("backward() called before forward()")
        y, self.out = self.out, None
        return dy * (1 - y ** 2)
    mp.setattr(mt.Tanh, "forward", forward)
    mp.setattr(mt.Tanh, "backward", backward)


def _no_grad_leak(mp):
    """Tanh stores its output bypassing Module.__setattr__, so no_grad cannot drop it."""
    def forward(self, x):
        y = _tanh(x)
        object.__setattr__(self, "_kept", y)
        self._out = y
        return y
    mp.setattr(mt.Tanh, "forward", call_frames.forward_call(forward))


_plain_linear_init = mt.Linear.__init__
_plain_linear_forward = mt.Linear.forward.__wrapped__


def _init_state(mp):
    """Linear counts its calls in a "_" attribute set in __init__: reset to None after backward."""
    def init(self, *args, **kwargs):
        _plain_linear_init(self, *args, **kwargs)
        self._calls = 0

    def forward(self, x):
        self._calls = (self._calls or 0) + 1
        return _plain_linear_forward(self, x)
    mp.setattr(mt.Linear, "__init__", init)
    mp.setattr(mt.Linear, "forward", call_frames.forward_call(forward))


def _mutated_state(mp):
    """Linear scales by the number of calls it has seen, kept in a "_" list it appends to."""
    def init(self, *args, **kwargs):
        _plain_linear_init(self, *args, **kwargs)
        self._seen = []

    def forward(self, x):
        self._seen.append(1)
        return _plain_linear_forward(self, x) * len(self._seen)

    def backward_params(self, dy):
        n, x = len(self._seen), self._x
        self.W.accumulate_grad(n * x.reshape(-1, self.in_features).T @ dy.reshape(-1, self.out_features))
        self.b.accumulate_grad(n * dy.reshape(-1, self.out_features).sum(axis=0))
    mp.setattr(mt.Linear, "__init__", init)
    mp.setattr(mt.Linear, "forward", call_frames.forward_call(forward))
    mp.setattr(mt.Linear, "backward_params", call_frames.backward_call(backward_params))
    mp.setattr(mt.Linear, "backward_input",
               call_frames.backward_call(lambda self, dy: len(self._seen) * dy @ self.W.data.T))


def _params_half_forgets_bias(mp):
    """Linear writes backward whole; its backward_params forgets the bias."""
    plain_params, plain_input = mt.Linear.backward_params.__wrapped__, mt.Linear.backward_input.__wrapped__

    def backward(self, dy):
        plain_params(self, dy)
        return plain_input(self, dy)

    def backward_params(self, dy):
        self.W.accumulate_grad(self._x.reshape(-1, self.in_features).T @ dy.reshape(-1, self.out_features))
    mp.setattr(mt.Linear, "backward", call_frames.backward_call(backward))
    mp.setattr(mt.Linear, "backward_params", call_frames.backward_call(backward_params))


def _accumulate_before_check(mp):
    """Linear adds the bias gradient before it checks dy's shape."""
    plain_params = mt.Linear.backward_params.__wrapped__

    def backward_params(self, dy):
        self.b.accumulate_grad(np.zeros(self.out_features))
        plain_params(self, dy)
    mp.setattr(mt.Linear, "backward_params", call_frames.backward_call(backward_params))


def _unchecked_dy(mp):
    """Tanh's backward takes any dy that broadcasts."""
    backward = call_frames.backward_call(lambda self, dy: dy[..., :1] * (1 - self._out ** 2))
    mp.setattr(mt.Tanh, "backward", backward)


def _loss_shared_slope(mp):
    """MSELoss keeps its slope outside the frame: a newer term overwrites the older one's."""
    plain = MSELoss.forward.__wrapped__

    def forward(self, input, target):
        out = plain(self, input, target)
        object.__setattr__(self, "_slope_kept", self._slope)
        return out

    def backward(self, dloss=1.0):
        slope = self._slope_kept
        return slope * self._upstream(dloss, slope.dtype, slope.ndim)
    mp.setattr(MSELoss, "forward", call_frames.forward_call(forward))
    mp.setattr(MSELoss, "backward", call_frames.backward_call(backward))


def _loss_unframed(mp):
    """MSELoss keeps its slope in a public slot; its backward consumes no forward call."""
    plain = MSELoss.forward.__wrapped__

    def forward(self, input, target):
        out = plain(self, input, target)
        self.slope = self._slope
        return out

    def backward(self, dloss=1.0):
        return self.slope * float(dloss) / self.slope.size
    mp.setattr(MSELoss, "forward", call_frames.forward_call(forward))
    mp.setattr(MSELoss, "backward", backward)
    mp.setattr(MSELoss, "backward_params", lambda self, dloss=1.0: None)


def _unregistered(mp):
    """A layer exported from minitorch with no case in any registry."""
    class Unlisted(mt.Module):
        def forward(self, x):
            return x
    mp.setattr(mt, "Unlisted", Unlisted, raising=False)
    mp.setattr(mt, "__all__", [*mt.__all__, "Unlisted"])


def _pool_unprobed(mp):
    """The kernels' pool takes an array at CPython 3.10-3.13's count of a free one, unprobed."""
    mp.setattr(pool, "_sole_count", lambda: 3)


def _held_arrays(factory, make_inputs):
    with pytest.MonkeyPatch.context() as mp:
        test = registry.test_held_arrays_survive_later_calls_when_reference_counts_read_lower
        test(factory, make_inputs, mp)


def _weight_in_memory_order(mp):
    """Linear reads its weight's memory as if it were row-major (a flat view reshaped): right for a
    C-ordered weight, transposed columns for any other layout."""
    def forward(self, x):
        W = self.W.data
        self._x = x
        return x @ W.ravel(order="K").reshape(W.shape) + self.b.data
    mp.setattr(mt.Linear, "forward", call_frames.forward_call(forward))


def _uncast_input(mp):
    """LayerNorm computes in its input's dtype: float64 data make a float32 layer's output float64."""
    check = mt.LayerNorm._check_input
    mp.setattr(mt.LayerNorm, "_check_input",
               lambda self, x: np.asarray(x) if np.asarray(x).dtype == np.float64 else check(self, x))


def _chain_defers_uncopied(mp):
    """The chain kernel keeps a weight gradient as the product of the caller's own arrays: each
    child's backward told it is not the first (its x, the chain's input, not copied) and that no
    cast is due (the dy given, not copied)."""
    child = containers._backward_child

    def backward_child(m, frame, given, needs_dx, cast_to, first):
        return child(m, frame, given, needs_dx, None, False)
    mp.setattr(containers, "_backward_child", backward_child)


def _output_is_the_cache(mp):
    """Sigmoid returns the very array its backward reads (dx = dy * y * (1 - y))."""
    def forward(self, x):
        self._out = y = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
        return y
    mp.setattr(mt.Sigmoid, "forward", call_frames.forward_call(forward))


def _caller_writes(factory, make_inputs):
    with pytest.MonkeyPatch.context() as mp:
        test = registry.test_gradients_stay_when_the_caller_writes_its_input_and_dy_after_backward
        test(factory, make_inputs, mp)


_plain_leaky_init = mt.LeakyReLU.__init__


def _setting_cached_at_construction(mp):
    """LeakyReLU keeps the slope it was built with in a "_" slot and its forward reads that: an
    edit of negative_slope after construction is silently ignored."""
    def init(self, negative_slope=0.01):
        _plain_leaky_init(self, negative_slope)
        object.__setattr__(self, "_built_slope", negative_slope)

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        self._slope = slope = np.where(x > 0, 1.0, self._built_slope)
        return x * slope
    mp.setattr(mt.LeakyReLU, "__init__", init)
    mp.setattr(mt.LeakyReLU, "forward", call_frames.forward_call(forward))


def _setting_reread_by_backward(mp):
    """Softmax's backward reads dim again instead of the axis its forward read."""
    def backward(self, dy):
        y = self._cached(self._out)
        return y * (dy - np.sum(dy * y, axis=self.dim, keepdims=True))
    mp.setattr(mt.Softmax, "backward", call_frames.backward_call(backward))


def _loss_reduction_reread_by_backward(mp):
    """MSELoss's backward divides as reduction says now, not as its forward reduced."""
    plain = MSELoss.backward.__wrapped__

    def backward(self, dloss=1.0):
        self._reduction = self.reduction
        return plain(self, dloss)
    mp.setattr(MSELoss, "backward", call_frames.backward_call(backward))


def _unlisted_setting(mp):
    """LeakyReLU takes a new constructor argument, kept as a public attribute, in no table."""
    def init(self, negative_slope=0.01, inplace=False):
        _plain_leaky_init(self, negative_slope)
        self.inplace = inplace
    mp.setattr(mt.LeakyReLU, "__init__", init)


def _weight_alias_copies(mp):
    """Linear's ``weight`` setter copies the Parameter it is given: torch's tie trains two copies."""
    def setter(self, value):
        self.W = mt.Parameter(np.ascontiguousarray(value.data.T))
    mp.setattr(mt.Linear, "weight", property(mt.Linear.weight.fget, setter))


def _weight_alias_registers_its_view(mp):
    """Linear's ``weight`` setter ties W but also registers the view given: W is stepped twice."""
    def setter(self, value):
        self.W = value.base
        self._parameters["weight_view"] = value
    mp.setattr(mt.Linear, "weight", property(mt.Linear.weight.fget, setter))


def _setting_case(case_id, attribute):
    return next((c, e) for c, e in registry.SETTINGS if c == case_id and attribute in e)


MSE = next((c[1], c[3]) for c in LOSS_CASES if c[0] == "MSELoss")
LAYER_NORM = next((f, s) for i, f, s in registry.MODULE_CASES if i == "LayerNorm")
MUTANTS = [  # (id, mutant, registry test, its arguments)
    ("two-calls", _shared_cache, registry.test_two_calls_before_backward_give_each_calls_gradients,
     _case("Tanh")),
    ("two-calls-mutated-state", _mutated_state,
     registry.test_two_calls_before_backward_give_each_calls_gradients, _case("Linear")),
    ("second-backward", _unframed, registry.test_second_backward_for_one_forward_raises_naming_the_module,
     (*_case("Tanh"), "backward")),
    ("second-backward-names", _anonymous,
     registry.test_second_backward_for_one_forward_raises_naming_the_module, (*_case("Tanh"), "backward")),
    ("second-loss-backward", _loss_unframed,
     registry.test_second_loss_backward_for_one_forward_raises_naming_the_loss, (*MSE, "backward")),
    ("no-grad", _no_grad_leak, registry.test_no_grad_forward_keeps_no_frame_and_backward_after_it_raises,
     _case("Tanh")),
    ("no-grad-backward", _unframed,
     registry.test_no_grad_forward_keeps_no_frame_and_backward_after_it_raises, _case("Tanh")),
    ("no-grad-loss", _loss_shared_slope, registry.test_no_grad_loss_keeps_nothing, MSE),
    ("no-grad-between", _shared_cache,
     registry.test_no_grad_forward_between_a_forward_and_its_backward_changes_nothing, _case("Tanh")),
    ("refused-dy-accumulates", _accumulate_before_check,
     registry.test_a_refused_dy_names_the_module_and_leaves_the_forward_waiting, _case("Linear")),
    ("refused-dy-unchecked", _unchecked_dy,
     registry.test_a_refused_dy_names_the_module_and_leaves_the_forward_waiting, _case("Tanh")),
    ("state-init", _init_state, registry.test_forward_backward_pair_leaves_no_frame_and_loses_no_state,
     _case("Linear")),
    ("state-mutated", _mutated_state, registry.test_forward_backward_pair_leaves_no_frame_and_loses_no_state,
     _case("Linear")),
    ("state-waiting", _unframed, registry.test_forward_backward_pair_leaves_no_frame_and_loses_no_state,
     _case("Tanh")),
    ("backward-params", _params_half_forgets_bias,
     registry.test_backward_params_gives_the_gradients_of_backward, _case("Linear")),
    ("loss-two-terms", _loss_shared_slope,
     registry.test_one_loss_for_two_terms_gives_both_gradients_newest_first, (*MSE, "mean")),
    ("completeness", _unregistered, registry.test_every_exported_module_is_in_a_registry, ()),
    ("held-arrays-reused", _pool_unprobed, _held_arrays, _case("ReLU")),
    ("held-arrays-reused-lstm", _pool_unprobed, _held_arrays, _case("LSTM")),
    ("data-dtype", _uncast_input,
     registry.test_float64_data_into_a_float32_module_computes_as_its_float32_cast, LAYER_NORM),
    ("parameter-layout", _weight_in_memory_order,
     registry.test_parameters_in_another_memory_layout_give_the_same_numbers, (*_case("Linear"), "fortran")),
    ("caller-writes-chain", _chain_defers_uncopied, _caller_writes, _case("MLP-sliced")),
    ("caller-writes-linear", _chain_defers_uncopied, _caller_writes, _case("Linear-batch-1")),
    ("output-written", _output_is_the_cache,
     registry.test_writing_the_output_before_backward_changes_no_gradient, _case("Sigmoid")),
    ("setting-edited", _setting_cached_at_construction,
     registry.test_a_setting_edited_after_construction_is_read_as_torch_reads_it,
     (*_setting_case("LeakyReLU", "negative_slope"), False)),
    ("setting-edited-between", _setting_reread_by_backward,
     registry.test_a_setting_edited_between_forward_and_backward_gives_the_forwards_gradient_or_raises,
     (*_setting_case("Softmax", "dim"), False)),
    ("loss-setting-edited-between", _loss_reduction_reread_by_backward,
     registry.test_a_loss_setting_edited_between_forward_and_backward_gives_the_forwards_gradient_or_raises,
     (*next(s for s in registry.LOSS_SETTINGS if s[0] == "MSELoss"), False)),
    ("setting-unlisted", _unlisted_setting,
     registry.test_every_setting_of_every_registered_class_is_edited_or_said_fixed, ()),
    ("tie-copied", _weight_alias_copies,
     registry.test_a_parameter_assigned_to_a_twin_by_any_name_is_tied_or_refused, _case("Linear")),
    ("tie-view-registered", _weight_alias_registers_its_view,
     registry.test_a_parameter_assigned_to_a_twin_by_any_name_is_tied_or_refused, _case("Linear")),
]


@pytest.mark.parametrize("mutant, test, args", [m[1:] for m in MUTANTS], ids=[m[0] for m in MUTANTS])
def test_each_registry_test_fails_on_a_layer_breaking_its_promise(mutant, test, args, monkeypatch):
    test(*args)  # the real layers keep the promise
    mutant(monkeypatch)
    with pytest.raises(FAILED):
        test(*args)
