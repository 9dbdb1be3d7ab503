"""Attention masks: the causal mask, and PyTorch's bool / float masks merged into one additive mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_positive_int
from minitorch.dtypes import check_cpu, float_dtype, get_default_dtype
from minitorch.parameter import Parameter


def generate_square_subsequent_mask(size: int, dtype: Any = None, *, device: Any = None) -> np.ndarray:
    """The causal mask for a sequence of ``size``: 0 on and below the diagonal, -inf above.

    As torch.nn.Transformer.generate_square_subsequent_mask(sz, device=None, dtype=None): a float
    mask, added to the attention scores, so position i attends to positions j <= i only.
    ``dtype``: a NumPy dtype or torch's (e.g. ``torch.float64``), default the default dtype; it is the
    second argument here, where torch's is ``device``: ``device=`` by keyword (None or the CPU).
    Example:
        mt.generate_square_subsequent_mask(3)   # [[0, -inf, -inf], [0, 0, -inf], [0, 0, 0]]
    """
    who = "generate_square_subsequent_mask"
    size = check_positive_int(size, who, "size")
    check_cpu(device, who)
    mask = np.zeros((size, size), dtype=_mask_dtype(dtype, who))
    mask[np.triu_indices(size, k=1)] = -np.inf
    return mask


def _mask_dtype(dtype: Any, who: str) -> np.dtype:
    if dtype is None:
        return np.dtype(get_default_dtype())
    if str(dtype).startswith("torch."):  # torch.float32 / torch.float64 (torch is never imported)
        return float_dtype(dtype, who)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{who}: expected a dtype as second argument, got {dtype!r}; torch's second argument is "
            "device, which here goes by keyword: device='cpu'"
        ) from None


def merged_mask(
    attn_mask: Any, key_padding_mask: Any, *, is_causal: bool, NHLS: tuple[int, int, int, int], batched: bool,
    dtype: np.dtype, who: str,
) -> np.ndarray | None:
    """attn_mask + key_padding_mask as one additive mask of ``dtype`` broadcasting to (N, H, L, S), or None.

    Shapes:   attn_mask (L, S) or (N*H, L, S)   key_padding_mask (N, S)   (unbatched: (S,), (H, L, S))
    dtypes:   as torch's: a bool mask becomes ``dtype``, a float one is kept, the two are summed in
              their promoted dtype; that sum is then cast to ``dtype`` as torch's ``.to(dtype)`` (a
              number past float32's range becomes -inf; torch refuses most such masks instead)
    ``who`` names the attention module in errors.
    """
    N, H, L, S = NHLS
    if is_causal and attn_mask is None:
        raise ValueError(
            f"{who}: is_causal=True is a hint that attn_mask is the causal mask, so attn_mask "
            "is needed; make it with mt.generate_square_subsequent_mask(L)"
        )
    if is_causal and isinstance(attn_mask, Parameter) and attn_mask.requires_grad:
        raise TypeError(
            f"{who}: is_causal=True is PyTorch's hint that attn_mask is the fixed causal mask, but "
            "attn_mask is a Parameter that requires grad (PyTorch trains it with need_weights=True and "
            "drops it with need_weights=False); pass is_causal=False to train it as an attention bias, "
            "or freeze it (p.requires_grad_(False))"
        )
    mask = None
    if attn_mask is not None:
        m = additive_mask(attn_mask, "attn_mask", dtype, who)
        if is_causal and not is_causal_mask(m):
            raise ValueError(
                f"{who}: is_causal=True is PyTorch's hint that attn_mask is the causal mask, but the "
                "attn_mask given is not (-inf, True or a number <= -1e4 exactly where key j > query i, "
                "0 or False elsewhere, in every slice); PyTorch's result then depends on its code path "
                "(its own causal mask with need_weights=False and no key_padding_mask, this mask "
                "otherwise): pass is_causal=False to apply this mask, or "
                "mt.generate_square_subsequent_mask(L) for causal attention"
            )
        if m.shape == (L, S):
            mask = m[None, None]
        elif m.ndim == 3 and m.shape == (N * H, L, S):
            mask = m.reshape(N, H, L, S)
        else:
            raise ValueError(
                f"{who}: expected attn_mask of shape (L, S) = {(L, S)} or (N*num_heads, L, S) "
                f"= {(N * H, L, S) if batched else (H, L, S)}, got {m.shape}"
            )
    if key_padding_mask is not None:
        m = additive_mask(key_padding_mask, "key_padding_mask", dtype, who)
        if m.shape != ((N, S) if batched else (S,)):
            raise ValueError(
                f"{who}: expected key_padding_mask of shape {(N, S) if batched else (S,)} "
                f"(batch, key length), got {m.shape}"
            )
        m = m.reshape(N, 1, 1, S)
        with np.errstate(over="ignore"):  # two large finite negatives sum to -inf, as in torch
            mask = m if mask is None else mask + m
    if mask is None:
        return None
    with np.errstate(over="ignore"):  # float64's most negative number is -inf in float32, as torch's .to
        return mask.astype(dtype, copy=False)


# A finite entry at or below this masks as -inf does unless a row's scores spread wider than it:
# -1e4 (an old Hugging Face idiom), -1e9 and the dtype's most negative number are causal masks.
CAUSAL_FINITE = -1e4


def is_causal_mask(m: np.ndarray) -> bool:
    """Whether the additive mask ``m`` (.., L, S) is a causal one in every slice: -inf, or a finite
    value <= CAUSAL_FINITE, where j > i; 0 where j <= i (top-left aligned, as torch's causal attention)."""
    if m.ndim < 2:
        return False
    above = np.triu(np.ones(m.shape[-2:], bool), k=1)
    return bool((m[..., above] <= CAUSAL_FINITE).all() and (m[..., ~above] == 0).all())


def causal_mask(L: int, S: int, dtype: np.dtype) -> np.ndarray:
    """torch's own causal mask for is_causal=True, (1, 1, L, S): -inf where j > i, 0 elsewhere."""
    mask = np.zeros((1, 1, L, S), dtype)
    mask[..., np.triu(np.ones((L, S), bool), k=1)] = -np.inf
    return mask


def additive_mask(mask: Any, name: str, dtype: np.dtype, who: str) -> np.ndarray:
    """A mask as added to the scores: bool True -> -inf (may not attend), False -> 0, in ``dtype``;
    float as given, in its own dtype (a Parameter's values: MultiheadAttention's backward accumulates
    its gradient, if it requires grad). A learned mask (a Parameter that requires grad) wider than
    ``dtype`` is a TypeError, as torch refuses it: its values and gradient would pass through ``dtype``.
    """
    m = np.asarray(mask)
    if m.dtype == np.bool_:
        return np.where(m, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{who}: {name} must be a bool or floating array, got dtype {m.dtype}")
    if isinstance(mask, Parameter) and mask.requires_grad and not np.can_cast(m.dtype, dtype, "safe"):
        raise TypeError(
            f"{who}: {name} is a Parameter that requires grad (a learned mask) of dtype {m.dtype}, wider "
            f"than the module's {np.dtype(dtype)}: its values and gradient would be rounded to "
            f"{np.dtype(dtype)}, and PyTorch refuses it (a RuntimeError); cast it to the module's dtype "
            f"first: {name}.to(np.{np.dtype(dtype)}) (in place, as model.to)"
        )
    return m


def detect_is_causal_mask(mask: Any, is_causal: bool | None = None, size: int | None = None) -> bool:
    """torch.nn.modules.transformer._detect_is_causal_mask: ``is_causal`` as given if it is not None;
    else whether ``mask`` equals generate_square_subsequent_mask(size) in the mask's own dtype.

    Compared exactly: a float mask is -inf above the diagonal and 0 (or -0.0) elsewhere, a bool mask
    True above the diagonal and False elsewhere; shape (size, size) only (a (N*H, T, T) mask, a mask of
    another size or another dtype is not causal). ``size`` None: the mask's own size (shape[-2]).
    No mask: False. A Parameter is compared by its values.
    """
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    m = mask.data if isinstance(mask, Parameter) else np.asarray(mask)
    if m.ndim < 2:
        return False
    size = m.shape[-2] if size is None else size
    if m.shape != (size, size):
        return False
    above = np.triu(np.ones((size, size), bool), k=1)
    if m.dtype == np.bool_:
        return bool(np.array_equal(m, above))
    if m.dtype.kind != "f":  # torch refuses such a mask; the attention raises its TypeError
        return False
    return bool(np.all(np.where(above, m == -np.inf, m == 0)))


def sequence_length(x: Any, batch_first: bool) -> int | None:
    """torch's ``_get_seq_len``: T of a stack's input, (T, E) unbatched, (N, T, E) or (T, N, E) batched
    (None for fewer than 2 axes: the layers refuse such an input)."""
    shape = np.shape(x.data if isinstance(x, Parameter) else x)
    if len(shape) < 2:
        return None
    return shape[0] if len(shape) == 2 else shape[1 if batch_first else 0]


def stack_causal_hint(
    mask: Any, is_causal: Any, key_padding_mask: Any, size: int | None, *, who: str, names: tuple[str, str],
) -> bool:
    """The is_causal a transformer stack (TransformerEncoder, TransformerDecoder) gives each layer, as
    torch's: ``detect_is_causal_mask(mask, is_causal, size)``, ``size`` the input's sequence length.

    ``names`` are the stack's (mask, hint) argument names, for errors. is_causal: None, True or False.
    A learned mask (a Parameter that requires grad) that None detects as causal: torch's layers then
    apply it when a key padding mask is given (it is trained, exactly as with the hint False, which is
    what this returns) and drop it otherwise, for their own causal mask: its gradient stays None and it
    never trains. That last case is a TypeError naming the two fixes.
    """
    mask_name, hint_name = names
    if is_causal is not None and not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{who}: {hint_name} must be None (detect a causal {mask_name}), True or False, "
                        f"got {is_causal!r}")
    causal = detect_is_causal_mask(mask, is_causal, size)
    if is_causal is None and causal and isinstance(mask, Parameter) and mask.requires_grad:
        if key_padding_mask is not None:
            return False
        raise TypeError(
            f"{who}: {mask_name} is a Parameter that requires grad (a learned mask) and equals the causal "
            f"mask, so {hint_name}=None (the default) detects the causal hint; PyTorch's layers then apply "
            f"their own causal mask and drop {mask_name} (its gradient stays None: it never trains). "
            f"Pass {hint_name}=False to train it as an attention bias (PyTorch's result with False), or "
            f"freeze it ({mask_name}.requires_grad_(False)) for causal attention"
        )
    return causal
