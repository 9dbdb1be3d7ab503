"""Layer kernels: the same results as the plain layer code, with fewer passes and allocations.

Each function takes the layer and the arguments of the method it replaces, sets the same caches,
and returns what that method returns. The layer calls it at one marked line when
``kernels_enabled()``; tests/test_kernels.py checks every kernel against the plain method.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def linear_backward_params(layer: Any, dy: np.ndarray) -> None:
    """``Linear.backward_params``: dW = x.T @ dy, db = dy.sum(axis=0), accumulated.

    dW: ``Parameter.accumulate_matmul`` makes the first product after ``zero_grad()`` the gradient
    itself instead of copying it in: saves an (in, out) copy pass (1.6 MB for a 784x512 weight).
    db: the first sum after ``zero_grad()`` becomes ``grad`` itself (no copy), and a 2-D input
    skips the two reshapes (the small-step path: four calls fewer per layer).
    The order of the sums in db is NumPy's either way: the same numbers.
    """
    x = layer._cached(layer._x)
    dy = layer._check_grad(dy, x.shape[:-1] + (layer.out_features,), layer.W.data.dtype)
    if x.ndim != 2:
        x, dy = x.reshape(-1, layer.in_features), dy.reshape(-1, layer.out_features)
    layer.W.accumulate_matmul(x.T, dy)
    b = layer.b
    if b is not None:
        db = np.add.reduce(dy, axis=0)  # what dy.sum(axis=0) runs, without its Python wrapper
        if b.grad is None and db.dtype == b.data.dtype:
            b.grad = db  # a fresh array nobody else holds: adopted, as accumulate_matmul adopts dW
        else:
            b.accumulate_grad(db)
