"""The structures a recurrent layer or cell is given: the initial states read from ``hx`` and checked,
and the pairs in the gradient ``backward`` takes.

Shared by the layers (``rnn_base.py``) and the cells (``rnn_cells.py``): one check, the same messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.dtypes import as_floating


def initial_states(
    hx: Any, names: tuple[str, ...], shape: tuple[int, ...] | dict[str, tuple[int, ...]], batched: bool,
    batch_axis: int, dtype: np.dtype, who: str,
) -> list[np.ndarray]:
    """The states in ``hx`` (h, or the pair (h, c) when ``names`` has two), each with a batch axis.

    ``hx`` is None (zeros), one array, or for two names a pair whose items may be None (zeros).
    Each given state must have ``shape``, the shape the user sees (without the batch axis when the
    input is unbatched), or ``shape[name]`` when the states differ (an LSTM with projections: h0 has
    proj_size features, c0 hidden_size); it is cast to ``dtype`` and, if unbatched, given a batch axis of 1 at
    ``batch_axis`` (1 for the layers' (D * layers, N, H), 0 for the cells' (N, H)).
    """
    if hx is None:
        given = [None] * len(names)
    elif len(names) == 2:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            pair = ", ".join(names)
            raise ValueError(f"{who}: expected hx = ({pair}), a pair of arrays, got {type(hx).__name__}")
        given = list(hx)
    else:
        given = [hx]
    states = []
    for name, value in zip(names, given, strict=True):
        expected = shape[name] if isinstance(shape, dict) else shape
        if value is None:
            zeros_shape = expected if batched else expected[:batch_axis] + (1,) + expected[batch_axis:]
            states.append(np.zeros(zeros_shape, dtype))
            continue
        value = as_floating(value, who)
        if value.shape != expected:
            raise ValueError(f"{who}: expected {name} of shape {expected}, got {value.shape}")
        value = value.astype(dtype, copy=False)
        states.append(value if batched else np.expand_dims(value, batch_axis))
    return states


def gradient_pair(grad: Any, first_shape: tuple[int, ...], who: str, expected: str) -> Any:
    """``grad`` given to ``backward``, with a list ``[first, rest]`` read as the pair ``(first, rest)``
    (as ``hx`` takes a list for its pair) when it cannot be the values of one array: its first item
    is None or already has ``first_shape`` (the values of ``first_shape`` in a list of two have shape
    ``(2, *first_shape)``). Any other list is the values of one array (the first item's, as every
    module's ``dy`` may be); a list that is no array is a ValueError naming ``expected``.
    """
    if not isinstance(grad, list):
        return grad
    first = grad[0] if len(grad) == 2 else False
    if first is None or (isinstance(first, np.ndarray) and first.shape == first_shape):
        return tuple(grad)
    try:
        np.asarray(grad)
    except ValueError:  # ragged: NumPy's "inhomogeneous shape"
        raise ValueError(
            f"{who}.backward: expected {expected}, got a list of {len(grad)} that is neither one array nor "
            f"a pair whose first item is None or an array of shape {first_shape}"
        ) from None
    return grad
