"""``p.grad = g`` checks g as torch 2.13 checks an assignment to ``.grad`` (THPVariable_set_grad).

torch (measured here): None or a Tensor, else TypeError; another size (a 0-d tensor, a broadcastable
one too) or another dtype (an integer one too), RuntimeError; ``p.grad = p`` is refused; a
non-contiguous (transposed, expanded) tensor and another Parameter are kept as they are
(``p.grad is g``). MiniTorch: None or an np.ndarray of ``data``'s shape and dtype, kept as it is;
another Parameter as its data (shared); a NumPy scalar for a 0-d Parameter as a 0-d array (torch's
``p.grad / 2`` is a 0-d tensor); the rest a TypeError (type, dtype) or ValueError (shape) naming
the Parameter's shape and dtype, what came and the fix. Before, anything was stored.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minitorch as mt

WANT = (r"^Parameter\.grad: expected None or an np\.ndarray of the Parameter's shape \(2, 3\) and dtype "
        r"float32, got ")

REFUSED = {  # what came: (MiniTorch's error, its message after WANT, the torch value)
    "list": (TypeError, r"list; assign np\.asarray\(value, dtype=p\.dtype\)$", [[0.0] * 3] * 2),
    "float": (TypeError, r"float; assign", 1.0),
    "shape (3, 2)": (ValueError, r"shape \(3, 2\) \(as torch, a grad is not broadcast\)$", np.zeros((3, 2))),
    "broadcastable (3,)": (ValueError, r"shape \(3,\)", np.zeros(3)),
    "0-d": (ValueError, r"shape \(\)", np.array(1.0)),
    "numpy scalar": (ValueError, r"shape \(\)", np.float32(1.0)),
    "float64": (TypeError, r"dtype float64; assign value\.astype\(p\.dtype\)$", np.zeros((2, 3))),
    "int64": (TypeError, r"dtype int64; assign", np.zeros((2, 3), np.int64)),
    "bool": (TypeError, r"dtype bool; assign", np.zeros((2, 3), bool)),
}


def _as_torch(value):
    """The torch value standing for ``value`` (a NumPy array or scalar as its tensor)."""
    return torch.from_numpy(np.asarray(value)) if isinstance(value, (np.ndarray, np.generic)) else value


@pytest.mark.parametrize("what", list(REFUSED))
def test_what_torch_refuses_is_refused_naming_both_and_nothing_changes(what):
    error, message, value = REFUSED[what]
    t = torch.nn.Parameter(torch.zeros(2, 3))
    with pytest.raises((TypeError, RuntimeError)):
        t.grad = _as_torch(value)
    p = mt.Parameter(np.zeros((2, 3), np.float32))
    kept = np.ones((2, 3), np.float32)
    p.grad = kept
    with pytest.raises(error, match=WANT + message):
        p.grad = value
    assert p.grad is kept


@pytest.mark.parametrize("layout", ["transposed", "strided", "read-only", "fortran"])
def test_an_array_of_the_shape_and_dtype_is_kept_itself_as_torch_keeps_the_tensor(layout):
    base = np.arange(12, dtype=np.float32)
    g = {"transposed": base[:6].reshape(3, 2).T, "strided": base.reshape(2, 6)[:, ::2],
         "read-only": base[:6].reshape(2, 3), "fortran": np.asfortranarray(base[:6].reshape(2, 3))}[layout]
    if layout == "read-only":
        g.flags.writeable = False
    t, tg = torch.nn.Parameter(torch.zeros(2, 3)), torch.zeros(3, 2).t()
    t.grad = tg
    assert t.grad is tg and not tg.is_contiguous()
    p = mt.Parameter(np.zeros((2, 3), np.float32))
    p.grad = g
    assert p.grad is g


def test_another_parameter_is_taken_as_its_data_and_p_itself_is_refused_as_torch():
    t, u = torch.nn.Parameter(torch.zeros(2, 3)), torch.nn.Parameter(torch.ones(2, 3))
    t.grad = u
    assert t.grad is u
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        t.grad = t
    p, q = mt.Parameter(np.zeros((2, 3), np.float32)), mt.Parameter(np.ones((2, 3), np.float32))
    p.grad = q
    assert p.grad is q.data  # shared, as torch's: the same memory
    with pytest.raises(ValueError, match=r"^Parameter\.grad: can't assign a Parameter as its own grad"):
        p.grad = p
    with pytest.raises(TypeError, match=WANT + "dtype float64"):
        p.grad = mt.Parameter(np.ones((2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_numpy_scalar_for_a_0d_parameter_is_a_0d_array_as_torchs_0d_tensor(dtype):
    p = mt.Parameter(np.array(3.0, dtype))
    p.grad = np.array(2.0, dtype)
    p.grad = p.grad / 2  # NumPy: a scalar; torch: a 0-d tensor
    assert isinstance(p.grad, np.ndarray) and p.grad.shape == () and p.grad.dtype == dtype
    assert p.grad == 1.0
    with pytest.raises(TypeError, match="got dtype"):
        p.grad = (np.float64 if dtype == np.float32 else np.float32)(1.0)


def test_an_ndarray_subclass_is_refused_naming_the_fix():
    """np.matrix multiplies as matrices (an update's g * g would be a product): refused, where
    np.asarray(g) gives the plain array (torch keeps a Tensor subclass; NumPy's change the math)."""
    p = mt.Parameter(np.zeros((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # (NumPy's about np.matrix itself)
        matrix = np.asmatrix(np.ones((2, 3)))
    for g in (matrix, np.ma.masked_array(np.ones((2, 3)))):
        with pytest.raises(TypeError, match=r"an ndarray subclass .*; assign np\.asarray\(value\)$"):
            p.grad = g
        p.grad = np.asarray(g)
        assert type(p.grad) is np.ndarray


def test_the_grad_of_a_linear_weight_view_is_checked_as_the_view_and_written_through():
    """``Linear.weight`` (torch's layout, a view of W): its grad takes an array of its own shape and
    dtype only, written into W's gradient; torch's weight refuses W's (transposed) shape."""
    lin = mt.Linear(3, 2)
    t_lin = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="size"):
        t_lin.weight.grad = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"^Parameter\.grad: expected None or an np\.ndarray of the "
                                         r"Parameter's shape \(2, 3\) and dtype float32, got shape \(3, 2\)"):
        lin.weight.grad = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="got dtype float64"):
        lin.weight.grad = np.zeros((2, 3))
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    lin.weight.grad = g
    np.testing.assert_array_equal(lin.W.grad, g.T)
    lin.weight.grad = None
    assert lin.W.grad is None


def test_optimizers_and_zero_grad_keep_using_an_assigned_grad_as_torch():
    """An assigned grad steps as torch's; zero_grad(set_to_none=False) zeros that same array."""
    g = np.arange(6, dtype=np.float32).reshape(3, 2).T  # a transposed (non-contiguous) gradient
    p = mt.Parameter(np.ones((2, 3), np.float32))
    t = torch.nn.Parameter(torch.ones(2, 3))
    p.grad, t.grad = g, torch.from_numpy(g.copy())
    opt, t_opt = mt.SGD([p], lr=0.5, momentum=0.9), torch.optim.SGD([t], lr=0.5, momentum=0.9)
    opt.step()
    t_opt.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and not g.any()
