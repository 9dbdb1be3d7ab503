"""The initial states of a recurrent layer or cell, read from ``hx`` and checked.

Shared by the layers (``rnn.py``) and the cells (``rnn_cells.py``): one check, the same messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.dtypes import as_floating


def initial_states(
    hx: Any, names: tuple[str, ...], shape: tuple[int, ...], batched: bool, batch_axis: int, dtype: np.dtype,
    who: str,
) -> list[np.ndarray]:
    """The states in ``hx`` (h, or the pair (h, c) when ``names`` has two), each with a batch axis.

    ``hx`` is None (zeros), one array, or for two names a pair whose items may be None (zeros).
    Each given state must have ``shape``, the shape the user sees (without the batch axis when the
    input is unbatched); it is cast to ``dtype`` and, if unbatched, given a batch axis of 1 at
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
    zeros_shape = shape if batched else shape[:batch_axis] + (1,) + shape[batch_axis:]
    states = []
    for name, value in zip(names, given, strict=True):
        if value is None:
            states.append(np.zeros(zeros_shape, dtype))
            continue
        value = as_floating(value, who)
        if value.shape != shape:
            raise ValueError(f"{who}: expected {name} of shape {shape}, got {value.shape}")
        value = value.astype(dtype, copy=False)
        states.append(value if batched else np.expand_dims(value, batch_axis))
    return states
