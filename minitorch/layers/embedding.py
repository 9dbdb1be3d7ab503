"""Embedding: a lookup table from integer ids to learned vectors."""

from __future__ import annotations

import contextvars
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_positive_int
from minitorch.dtypes import factory_dtype
from minitorch.kernels import embedding as fast
from minitorch.kernels import kernels_enabled
from minitorch.layers._redraw import redraw_normal
from minitorch.module import Module, Parameter
from minitorch.parameter import laid_out_as

# The array a constructor call takes as its weight instead of drawing one (torch's private
# ``_weight``): set by ``Embedding.from_pretrained`` around its constructor call alone, so it is
# no constructor argument and model files never record it.
_pretrained: contextvars.ContextVar[np.ndarray | None] = contextvars.ContextVar("pretrained", default=None)


class Embedding(Module):
    """Row lookup y = weight[ids], as torch.nn.Embedding (ids of any shape, integer dtype).

    Shapes:   ids (*) integers in [0, num_embeddings)   weight (num_embeddings, embedding_dim)
              y (*, embedding_dim)
    Forward:  y = weight[ids]
    Backward: weight.grad[ids[k]] += dy[k] for every position k      (num_embeddings, embedding_dim)
                        a scatter-add straight into weight.grad: a row used m times gets the sum of
                        its m upstream rows (right for repeats); positions holding padding_idx are
                        skipped, so the padding row's gradient stays 0 (never updated), as torch
              dids = None   the ids are integers: not differentiable (CONTRACT §4)
    Init:     weight ~ N(0, 1), weight[padding_idx] = 0   (torch.nn.Embedding's default);
              ``reset_parameters()`` redraws it in place
              Embedding.from_pretrained(array): weight is that array, as given   (torch's)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    padding_idx may be negative (counted from the end), as torch; it is stored non-negative.
    torch's max_norm, scale_grad_by_freq and sparse are not supported: the constructor refuses them
    (TypeError naming the keyword), ``from_pretrained`` too (ValueError).
    Example:
        emb = Embedding(10, 3, padding_idx=0)
        y = emb(np.array([[1, 2, 0], [4, 4, 9]]))     # (2, 3, 3)
        emb.backward(np.ones((2, 3, 3)))               # None; emb.weight.grad[4] == 2, row 0 stays 0
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = check_positive_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "Embedding", "embedding_dim")
        padding_idx = _padding_row(padding_idx, self.num_embeddings)
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        dtype = factory_dtype(self, device, dtype)
        given = _pretrained.get()
        if given is not None:  # from_pretrained: that array itself, as torch's; nothing drawn or zeroed
            self.weight = Parameter(given)
        else:
            self.weight = Parameter(np.empty(shape, dtype))
            self.reset_parameters()
        self._ids: np.ndarray | None = None

    def reset_parameters(self) -> None:
        """Redraw weight ~ N(0, 1) in place, its padding_idx row then set to 0 (as torch.nn.Embedding's;
        on a ``from_pretrained`` Embedding this overwrites the given array, whose memory it shares)."""
        redraw_normal(self, ("weight",))
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (num_embeddings, embedding_dim), as torch's.

        As torch.nn.Embedding.from_pretrained: the array itself becomes ``weight.data`` (shared, not
        copied: an optimizer step writes into it; pass a copy to keep the original), in its own
        dtype (float32 or float64); the row at padding_idx is left as given (only a drawn weight
        has it zeroed) and gets no gradient; freeze=True (the default) sets
        ``weight.requires_grad = False``. Nothing is drawn from the generator.
        max_norm, scale_grad_by_freq and sparse take only their defaults (ValueError otherwise, as
        the constructor lacks them); norm_type is read only with max_norm, as torch.
        Example:
            emb = Embedding.from_pretrained(np.eye(4), freeze=False, padding_idx=0)
            emb(np.array([0, 3]))                          # rows 0 and 3 of np.eye(4)
        """
        who = "Embedding.from_pretrained"
        asked = {"max_norm": (max_norm, max_norm is not None),  # torch's tests of each option
                 "scale_grad_by_freq": (scale_grad_by_freq, bool(scale_grad_by_freq)),
                 "sparse": (sparse, bool(sparse))}
        for name, (value, on) in asked.items():
            if on:
                raise ValueError(f"{who}: {name}={value!r} is not supported: {_TORCH_ONLY[name]}")
        freeze = check_bool(freeze, who, "freeze")
        weight = np.asarray(embeddings)
        if weight.ndim != 2 or weight.dtype.kind != "f":
            raise ValueError(f"{who}: expected a 2-D floating array (num_embeddings, embedding_dim), "
                             f"got shape {weight.shape} of dtype {weight.dtype}")
        token = _pretrained.set(weight)
        try:
            embedding = cls(*weight.shape, padding_idx, dtype=weight.dtype)
        finally:
            _pretrained.reset(token)
        embedding.weight.requires_grad = not freeze
        return embedding

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = self._check_ids(ids)
        # read at every call, as torch's F.embedding (an edit counts; refused here if out of range);
        # the backward of this call leaves out the row this call read
        self._padding = _padding_row(self.padding_idx, self.num_embeddings)
        self._ids = ids
        return lookup_rows(self.weight.data, ids)

    def backward_params(self, dy: np.ndarray) -> None:
        ids = self._cached(self._ids)
        dy = self._check_grad(dy, ids.shape + (self.embedding_dim,), self.weight.data.dtype)
        # w.r.t. parameters
        if not self.weight.requires_grad:  # frozen (e.g. pretrained vectors): no gradient to write
            return
        ids, dy = ids.reshape(-1), dy.reshape(-1, self.embedding_dim)
        padding_idx = self._padding
        if padding_idx is not None:
            keep = ids != padding_idx
            ids, dy = ids[keep], dy[keep]
        if self.weight.grad is None:  # the contract's fresh gradient: zeros plus the scatter-add
            self.weight.grad = laid_out_as(scatter_rows(self.num_embeddings, ids, dy), self.weight.data)
        else:  # added in place: a (num_embeddings, dim) temporary would cost more than the rows
            scatter_add_rows(self.weight.grad, ids, dy)

    def backward_input(self, dy: np.ndarray) -> None:
        ids = self._cached(self._ids)
        self._check_grad(dy, ids.shape + (self.embedding_dim,), self.weight.data.dtype)
        # w.r.t. input: integer ids have no gradient
        return None

    def _check_ids(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise ValueError(
                f"Embedding(num_embeddings={self.num_embeddings}): expected integer ids in "
                f"[0, {self.num_embeddings}), got dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(
                f"Embedding(num_embeddings={self.num_embeddings}): ids must lie in "
                f"[0, {self.num_embeddings}), got values in [{ids.min()}, {ids.max()}]"
            )
        return ids

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


def _padding_row(padding_idx: Any, num_embeddings: int) -> int | None:
    """padding_idx as a row in [0, num_embeddings) (a negative one counts from the end, as torch's),
    or None; a ValueError for anything else. Also read at each backward: it may be set later."""
    if padding_idx is None:
        return None
    valid = isinstance(padding_idx, (int, np.integer)) and not isinstance(padding_idx, bool)
    if not valid or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Embedding: padding_idx must be an integer in [-{num_embeddings}, "
                         f"{num_embeddings}) or None, got {padding_idx!r}")
    return int(padding_idx) % num_embeddings


# torch's options that MiniTorch's Embedding lacks: what torch would do, and the fix
_TORCH_ONLY = {
    "max_norm": "torch rescales, in place, every looked-up row whose norm exceeds max_norm; MiniTorch "
                "never renormalises: pass max_norm=None, or rescale the rows of weight.data yourself",
    "scale_grad_by_freq": "torch divides each row's gradient by its count in the batch; pass "
                          "scale_grad_by_freq=False",
    "sparse": "MiniTorch's gradients are dense arrays; pass sparse=False (the same values, dense)",
}


def lookup_rows(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """y = weight[ids]: row ids[k] of weight for every position k, shape ids.shape + (dim,)."""
    if kernels_enabled():  # the fast room: np.take, same rows
        return fast.lookup_rows(weight, ids)
    return weight[ids]


def scatter_rows(num_rows: int, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A fresh (num_rows, dim) array: zeros, then out[ids[k]] += rows[k] for every k (repeats add up)."""
    if kernels_enabled():  # the fast room: the first occurrences assigned, no gather of the zeros
        return fast.scatter_rows(num_rows, ids, rows)
    out = np.zeros((num_rows,) + rows.shape[1:], dtype=rows.dtype)
    np.add.at(out, ids, rows)
    return out


def scatter_add_rows(target: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """target[ids[k]] += rows[k] for every k, repeated ids adding up: ``np.add.at``.

    (``target[ids] += rows`` would be wrong: with repeats, only one of the rows would land.)
    """
    if kernels_enabled():  # the fast room: vectorised per rank of repeat, same result
        return fast.scatter_add_rows(target, ids, rows)
    np.add.at(target, ids, rows)
