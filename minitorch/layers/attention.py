"""Multi-head scaled dot-product attention, as torch.nn.MultiheadAttention, with its backward written out.

Its parts live beside it, one file each: the core on split heads (``attention_core.py``), the masks
(``attention_masks.py``) and the output projection (``out_projection.py``). Their public names are
re-exported here, so ``minitorch.layers.attention.<name>`` still finds them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.init import xavier_uniform_
from minitorch.kernels import fast_or_plain
from minitorch.layers._redraw import check_writable
from minitorch.layers.attention_core import (
    attention_core,
    attention_core_backward,
    dropout_mask,
    masked_softmax,
    nan_empty_rows,
)
from minitorch.layers.attention_masks import causal_mask, generate_square_subsequent_mask, merged_mask
from minitorch.layers.out_projection import OutProjection
from minitorch.module import Module, Parameter

__all__ = [
    "MultiheadAttention", "OutProjection", "attention_core", "attention_core_backward", "dropout_mask",
    "generate_square_subsequent_mask", "masked_softmax",
]


class MultiheadAttention(Module):
    """Multi-head attention, as torch.nn.MultiheadAttention: every option, PyTorch's names and layouts.

    Shapes (batch_first=True; with False the first two axes of query/key/value/output are swapped;
    unbatched inputs drop N):
              query (N, L, E)   key (N, S, kdim)   value (N, S, vdim)   E = embed_dim, H = num_heads,
              D = E // H        in_proj_weight (3E, E) = [Wq; Wk; Wv]   (or q/k/v_proj_weight (E, E),
              (E, kdim), (E, vdim) when kdim or vdim differ from E)     in_proj_bias (3E,) = [bq; bk; bv]
              out_proj.weight Wo (E, E)   out_proj.bias bo (E,)
              attn_mask (L, S) or (N*H, L, S)   key_padding_mask (N, S)   (bool: True = may NOT attend;
              float: added to the scores)
              attn_output (N, L, E)   attn_weights (N, L, S) averaged over heads, (N, H, L, S) if
              average_attn_weights=False, None if need_weights=False
    Forward:  q = query @ Wq.T + bq;  k = key @ Wk.T + bk;  v = value @ Wv.T + bv      (N, L|S, E)
              qh, kh, vh = each split into H heads of D features                        (N, H, L|S, D)
              s  = (qh / sqrt(D)) @ kh.T + mask             (N, H, L, S)  mask = attn_mask + key_padding_mask
              p  = softmax(s, axis=-1)                       a row masked everywhere (every key -inf):
                                                             p = NaN with need_weights=True (torch's
                                                             plain softmax: its output and gradients are
                                                             NaN as torch's), p = 0 with False (torch's
                                                             fused attention: the row's output is bo)
              pd = p * drop                                  drop = keep / (1 - dropout) while training
                                                             (drop = 0 for dropout = 1, as torch)
              o  = merge_heads(pd @ vh)                      (N, L, E)
              attn_output = o @ Wo.T + bo;   attn_weights = pd.mean(axis=1)   (or pd itself)
    Backward: (one pass: every gradient needs the same intermediate ones, so ``backward`` holds both blocks)
              dWo = dy.T @ o (E, E);  dbo = dy.sum  (E,);  do = dy @ Wo           (N, L, E)
              dpd = doh @ vh.T (+ the gradient of attn_weights, / H when averaged)   (N, H, L, S)
              dvh = pd.T @ doh                                                       (N, H, S, D)
              dp  = dpd * drop
              ds  = p * (dp - sum(dp * p, axis=-1))          the softmax Jacobian; 0 on masked entries
              dqh = ds @ kh / sqrt(D);   dkh = ds.T @ qh / sqrt(D)                    (N, H, L|S, D)
              dq, dk, dv = merge_heads(dqh), merge_heads(dkh), merge_heads(dvh)       (N, L|S, E)
              dWq = dq.T @ query  dWk = dk.T @ key  dWv = dv.T @ value   dbq, dbk, dbv = sums   (accumulated)
              dquery = dq @ Wq  (N, L, E);  dkey = dk @ Wk  (N, S, kdim);  dvalue = dv @ Wv  (N, S, vdim)
              ``backward(dy)`` or ``backward((dy, dweights))`` returns (dquery, dkey, dvalue). For
              self-attention, ``mha(x, x, x)``, the caller adds them: dx = dquery + dkey + dvalue.
              A Parameter that requires grad given as query, key or value (learned queries) is a leaf,
              as in torch and as for every module (minitorch.leaf_inputs): backward accumulates its
              gradient into its grad (the sum over the slots it filled) and returns None in its
              slots; a frozen one is a constant array.
    Masks:    bool masks become 0 / -inf; both masks are summed; is_causal is PyTorch's hint that
              attn_mask is the causal mask: attn_mask is then required and must be causal (-inf /
              True / a number <= -1e4 exactly where j > i, 0 elsewhere: a ValueError otherwise, where
              torch's answer depends on its code path); as torch, need_weights=False without a
              key_padding_mask then applies the causal mask itself (-inf), other calls attn_mask.
              A float mask that is a Parameter requiring grad (a learned attention bias) is trained as
              torch's autograd trains it: dattn_mask = ds summed over (N, H) for (L, S), ds itself for
              (N*H, L, S); dkey_padding_mask = ds summed over (H, L); accumulated (with is_causal=True
              a TypeError: the hint says the mask is the fixed causal one).
              Dropout acts on the attention weights only; the returned weights include it (as torch).
    Settings: num_heads, batch_first and dropout are read at every forward (an edit counts, as in
              torch); head_dim is the constructor's embed_dim // num_heads and, as torch's, is not
              updated by a num_heads edit (nothing reads it: the forward uses embed_dim // num_heads)
    Options:  torch's signature and order; add_bias_kv and add_zero_attn take only their default,
              False (True is a TypeError naming it)
    Init:     in_proj / q,k,v_proj weights xavier_uniform_; in_proj_bias = 0; out_proj.weight
              U(-1/sqrt(E), 1/sqrt(E)); out_proj.bias = 0   (torch's _reset_parameters, which redraws
              all but out_proj.weight in place; ``out_proj.reset_parameters()``: torch's Linear's)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        mha = MultiheadAttention(8, 2, batch_first=True)
        y, w = mha(x, x, x, attn_mask=generate_square_subsequent_mask(5))   # x (N, 5, 8)
        dq, dk, dv = mha.backward(dy); dx = dq + dk + dv
    """

    _graded_inputs = 3  # backward returns (dquery, dkey, dvalue)
    _leaf_keywords = ("key_padding_mask", "attn_mask")  # a learned float mask: trained here

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "MultiheadAttention"
        self.embed_dim = check_positive_int(embed_dim, who, "embed_dim")
        self.num_heads = check_positive_int(num_heads, who, "num_heads")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{who}: embed_dim must be divisible by num_heads, got embed_dim={embed_dim}, "
                f"num_heads={num_heads}"
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = check_number(dropout, who, "dropout", 0, 1)
        self.kdim = self.embed_dim if kdim is None else check_positive_int(kdim, who, "kdim")
        self.vdim = self.embed_dim if vdim is None else check_positive_int(vdim, who, "vdim")
        self.batch_first = check_bool(batch_first, who, "batch_first")
        bias = check_bool(bias, who, "bias")
        for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if check_bool(value, who, name):  # torch's default, False, spelled out is accepted
                raise TypeError(f"{who} does not support {name}=True (only torch's default, False)")
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        dtype, E = factory_dtype(self, device, dtype), self.embed_dim
        self.in_proj_weight = self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype))
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype))
        self.in_proj_bias = Parameter(np.empty(3 * E, dtype)) if bias else None
        self._reset_in_projection()
        self.out_proj = OutProjection(E, E, bias=bias, device=device, dtype=dtype)  # its bias is 0

    def _reset_parameters(self) -> None:
        """torch's ``MultiheadAttention._reset_parameters`` (torch's name: MultiheadAttention has no public
        ``reset_parameters``): in place, the in-projection weights xavier_uniform_, in_proj_bias = 0 and
        out_proj.bias = 0; out_proj.weight is kept (``out_proj.reset_parameters()`` redraws it)."""
        check_writable(self, "_reset_parameters", [*self._parameters, "out_proj.bias"])
        self._reset_in_projection()
        if self.out_proj.bias is not None:
            self.out_proj.bias.data[...] = 0

    def _reset_in_projection(self) -> None:
        """In place: in_proj_weight (or q, k, v_proj_weight in turn) xavier_uniform_, in_proj_bias = 0."""
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if weight is not None:
                xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data[...] = 0

    # ------------------------------------------------------------------------------ forward
    def forward(
        self,
        query: np.ndarray,
        key: np.ndarray,
        value: np.ndarray,
        key_padding_mask: np.ndarray | None = None,
        need_weights: bool = True,
        attn_mask: np.ndarray | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # a learned float mask (a Parameter requiring grad) is trained here; a Parameter query, key or
        # value came as its data (the frame wrappers take its gradient: minitorch.leaf_inputs)
        mask_leaves = (_leaf(attn_mask), _leaf(key_padding_mask))
        query, key, value, mask, batched = self.check_inputs(query, key, value, key_padding_mask, attn_mask,
                                                             is_causal)
        if is_causal and not need_weights and key_padding_mask is None:  # torch drops attn_mask for its
            mask = causal_mask(query.shape[1], key.shape[1], mask.dtype)  # own there (-inf, not -1e9)
        Wq, Wk, Wv = self._proj_weights()
        bq, bk, bv = self._proj_biases()
        q, k, v = _affine(query, Wq, bq), _affine(key, Wk, bk), _affine(value, Wv, bv)
        # num_heads and batch_first are read at every forward, as torch's (an edit counts); its
        # backward reads the values this call read
        self._heads, self._batch_first = self._read_heads(), self.batch_first
        qh, kh, vh = (self._split_heads(t) for t in (q, k, v))
        qh *= 1.0 / math.sqrt(self.embed_dim // self._heads)  # scale q before the product, as torch does
        drop = None
        if self.training and self.dropout > 0:
            shape = qh.shape[:3] + kh.shape[2:3]
            drop = fast_or_plain("attention", dropout_mask)(shape, self.dropout, qh.dtype)
        oh, p, pd = fast_or_plain("attention", attention_core)(qh, kh, vh, mask, drop)
        if need_weights:  # torch's path with weights: a plain softmax, NaN for a row masked everywhere
            oh, p, pd = nan_empty_rows(mask, oh, p, pd)
        o = self._merge_heads(oh)
        y = self.out_proj(o)
        self._inputs, self._qkv, self._p, self._drop = (query, key, value), (qh, kh, vh), p, drop
        self._need_weights, self._average, self._batched = need_weights, average_attn_weights, batched
        self._mask_leaves = mask_leaves
        weights = None
        if need_weights:
            weights = pd.mean(axis=1) if average_attn_weights else pd
            weights = weights if batched else weights[0]
        return self._unbatch(y, batched), weights

    def _proj_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.in_proj_weight is not None:
            return tuple(np.split(self.in_proj_weight.data, 3))
        return self.q_proj_weight.data, self.k_proj_weight.data, self.v_proj_weight.data

    def _proj_biases(self) -> tuple[np.ndarray | None, ...]:
        return (None,) * 3 if self.in_proj_bias is None else tuple(np.split(self.in_proj_bias.data, 3))

    def _read_heads(self) -> int:
        """num_heads as this forward reads it, with torch's check (head_dim = embed_dim // num_heads)."""
        heads = check_positive_int(self.num_heads, "MultiheadAttention", "num_heads")
        if self.embed_dim % heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={self.embed_dim}, num_heads={heads}")
        return heads

    def _split_heads(self, t: np.ndarray) -> np.ndarray:
        N, T, _ = t.shape
        return t.reshape(N, T, self._heads, self.embed_dim // self._heads).transpose(0, 2, 1, 3)

    def _merge_heads(self, th: np.ndarray) -> np.ndarray:
        N, _, T, _ = th.shape
        return th.transpose(0, 2, 1, 3).reshape(N, T, self.embed_dim)

    # ----------------------------------------------------------------------------- backward
    def backward(self, grad: Any) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """(dquery, dkey, dvalue) from dy or (dy, dweights); for self-attention the caller adds them.

        An input that was a Parameter requiring grad gets its gradient accumulated into its ``grad``
        (summed over the slots it filled, as torch's autograd does for a leaf), and its slot is None:
        the rule of every module (``minitorch.leaf_inputs``), applied by the frame wrapper.

        Attention's parameter and input gradients share one pass (each needs dq, dk, dv), so this
        method holds both blocks; ``backward_params`` runs it and drops the input gradients.
        """
        query, key, value = self._cached(self._inputs)
        qh, kh, vh = self._qkv
        p, drop = self._p, self._drop
        dy, dweights = self._split_grad(grad, query.shape[:2])
        # output projection: w.r.t. parameters (Wo, bo) and w.r.t. its input o
        doh = self._split_heads(self.out_proj.backward(dy))
        # attention core (no parameters): through pd @ vh, the dropout and the softmax
        if dweights is not None:
            dweights = dweights[:, None] / self._heads if self._average else dweights
        scale = 1.0 / math.sqrt(self.embed_dim // self._heads)
        core_backward = fast_or_plain("attention", attention_core_backward)
        learned_masks = any(m is not None for m in self._mask_leaves)  # (is: a view compares by value)
        dqh, dkh, dvh, *ds = core_backward(doh, dweights, qh, kh, vh, p, drop, scale, with_ds=learned_masks)
        if learned_masks:  # s = qh @ kh.T + mask: a learned mask's gradient is ds, summed as it broadcast
            self._accumulate_mask_grads(ds[0])
        dq, dk, dv = (self._merge_heads(t) for t in (dqh, dkh, dvh))
        # input projections: w.r.t. parameters
        self._accumulate_proj_grads((dq, dk, dv), (query, key, value))
        # input projections: w.r.t. inputs
        Wq, Wk, Wv = self._proj_weights()
        grads = (dq @ Wq, dk @ Wk, dv @ Wv)
        return tuple(self._unbatch(g, self._batched) for g in grads)

    def _accumulate_mask_grads(self, ds: np.ndarray) -> None:
        """A learned attn_mask's and key_padding_mask's gradients from the scores' ds (N, H, L, S)."""
        attn_mask, key_padding_mask = self._mask_leaves
        N, H, L, S = ds.shape
        if attn_mask is not None:  # (L, S) is added to every sequence and head; (N*H, L, S) to one each
            attn_mask.accumulate_grad(ds.sum(axis=(0, 1)) if attn_mask.ndim == 2 else ds.reshape(N * H, L, S))
        if key_padding_mask is not None:  # (N, S) is added to every head and query of its sequence
            dpad = ds.sum(axis=(1, 2))
            key_padding_mask.accumulate_grad(dpad if self._batched else dpad[0])

    def backward_params(self, grad: Any) -> None:
        """``backward`` without its return: the parameters' gradients, and those of Parameter inputs."""
        self.backward(grad)

    def _accumulate_proj_grads(self, douts: tuple[np.ndarray, ...], inputs: tuple[np.ndarray, ...]) -> None:
        pairs = zip(douts, inputs, strict=True)
        dWs = [d.reshape(-1, self.embed_dim).T @ x.reshape(-1, x.shape[-1]) for d, x in pairs]
        if self.in_proj_weight is not None:
            self.in_proj_weight.accumulate_grad(np.concatenate(dWs))
        else:
            params = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
            for param, dW in zip(params, dWs, strict=True):
                param.accumulate_grad(dW)
        if self.in_proj_bias is not None:
            self.in_proj_bias.accumulate_grad(np.concatenate([d.sum(axis=(0, 1)) for d in douts]))

    def _split_grad(self, grad: Any, NL: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
        """(dy, dweights) in the batch-first, batched layout; None parts become zeros / no term."""
        if isinstance(grad, (tuple, list)):
            if len(grad) != 2:
                raise ValueError(
                    f"MultiheadAttention.backward: expected dy or (dy, dweights), got {len(grad)} items"
                )
            dy, dweights = grad
        else:
            dy, dweights = grad, None  # a bare array is the gradient of the first output
        dtype = self._p.dtype
        N, L = NL
        shape = (N, L, self.embed_dim)
        if dy is None:
            dy = np.zeros(shape, dtype)
        else:
            dy = self._check_grad(dy, self._orient(shape), dtype)
            dy = self._batch(dy, self._batched, self._batch_first)
        if dweights is not None:
            if not self._need_weights:
                raise ValueError(
                    "MultiheadAttention.backward: forward ran with need_weights=False, so attn_weights "
                    "was None and its gradient must be None"
                )
            wshape = self._p.shape[:1] + self._p.shape[2:] if self._average else self._p.shape
            dweights = self._check_grad(dweights, wshape if self._batched else wshape[1:], dtype)
            dweights = dweights if self._batched else dweights[None]
        return dy, dweights

    # ------------------------------------------------------------------------------ layouts
    def _orient(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A batch-first (N, T, F) shape as the user sees it (batch_first, batched or not)."""
        if not self._batched:
            return shape[1:]
        return shape if self._batch_first else (shape[1], shape[0], shape[2])

    @staticmethod
    def _batch(x: np.ndarray, batched: bool, batch_first: bool) -> np.ndarray:
        if not batched:
            return x[None]
        return x if batch_first else x.swapaxes(0, 1)

    def _unbatch(self, x: np.ndarray, batched: bool) -> np.ndarray:
        """Back to the layout of the forward call's inputs (the batch_first that call read)."""
        if not batched:
            return x[0]
        return x if self._batch_first else x.swapaxes(0, 1)

    # ------------------------------------------------------------------------------- checks
    def check_inputs(
        self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, attn_mask: Any = None,
        is_causal: bool = False,
    ) -> tuple[Any, ...]:
        """(query, key, value, mask, batched): the inputs batch-first in the parameters' dtype and the
        merged additive mask, or the ValueError / TypeError forward would raise; changes nothing.

        A composite (the encoder layer) calls it at its door, so a bad mask is refused before any
        child has run.
        """
        query, key, value, batched = self._check_inputs(query, key, value)
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        mask = merged_mask(attn_mask, key_padding_mask, is_causal=is_causal, NHLS=(N, self.num_heads, L, S),
                           batched=batched, dtype=self.out_proj.weight.dtype, who=self._who())
        return query, key, value, mask, batched

    def _check_inputs(self, query: Any, key: Any, value: Any) -> tuple[np.ndarray, ...] | Any:
        """query, key, value as batch-first (N, T, F) arrays in the parameters' dtype, and whether batched."""
        arrays = [as_floating(a, "MultiheadAttention") for a in (query, key, value)]
        q, k, v = arrays
        batched = q.ndim == 3
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(
                f"{self._who()}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), "
                f"got {q.shape}, {k.shape}, {v.shape}"
            )
        for name, a, dim in (("query", q, self.embed_dim), ("key", k, self.kdim), ("value", v, self.vdim)):
            if a.shape[-1] != dim:
                raise ValueError(f"{self._who()}: expected {name} with {dim} features, got shape {a.shape}")
        q, k, v = (self._batch(a, batched, self.batch_first) for a in (q, k, v))
        if k.shape[:2] != v.shape[:2]:
            raise ValueError(
                f"{self._who()}: key and value must have the same batch size and length S, "
                f"got key {key.shape} and value {value.shape}"
            )
        if k.shape[0] != q.shape[0]:
            raise ValueError(
                f"{self._who()}: query and key must have the same batch size, got query {query.shape} "
                f"and key {key.shape} (batch_first={self.batch_first})"
            )
        dtype = parameter_dtype(self, recurse=True)  # compute in the parameters' dtype: one (as torch)
        return (*(a.astype(dtype, copy=False) for a in (q, k, v)), batched)

    def _who(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def extra_repr(self) -> str:
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"bias={self.in_proj_bias is not None}{extra}, batch_first={self.batch_first}"
        )


def _leaf(a: Any) -> Parameter | None:
    """``a`` if it is a Parameter that requires grad (torch's leaf: its gradient goes into it), else None."""
    return a if isinstance(a, Parameter) and a.requires_grad else None


def _affine(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x @ W.T + b for x (N, T, in), W (out, in): PyTorch's weight layout."""
    y = x @ W.T
    if b is not None:
        y += b
    return y

