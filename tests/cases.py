"""Registries of module cases, one per family: adding a layer to the gradcheck, oracle and contract
suites is one line here.

Each ``Case`` is (id, factory, input_shape, oracle). The factory builds the module in the current
default dtype; ``input_shape`` includes the batch dimension; ``oracle`` says that tests/oracle.py
has its PyTorch twin (False: gradcheck and the properties only, e.g. Dropout in training mode,
whose mask torch cannot draw). ``MODULE_CASES`` and ``ORACLE`` are the flat views the suites
parametrize over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import minitorch as mt


class Case(NamedTuple):
    id: str
    factory: Callable[[], mt.Module]
    input_shape: tuple[int, ...]
    oracle: bool = True  # a PyTorch twin in tests/oracle.py checks output, dx and every grad


class InputCase(NamedTuple):
    """A module of several, integer or nested inputs: ``make_inputs(rng)`` gives its positional inputs."""

    id: str
    factory: Callable[[], mt.Module]
    make_inputs: Callable[[np.random.Generator], tuple]
    oracle: bool = True


def _randomized(module: mt.Module) -> mt.Module:
    """Random weights, biases and running statistics instead of the 1 / 0 init, so tests see them."""
    rng = np.random.default_rng(7)
    for p in module.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)
    for name, buffer in module.named_buffers():
        if name.endswith("running_mean"):
            buffer[...] = rng.standard_normal(buffer.shape)
        elif name.endswith("running_var"):
            buffer[...] = rng.uniform(0.5, 2.0, buffer.shape)
    return module


def _tracked(module: mt.Module, batches: int) -> mt.Module:
    """A BatchNorm that has already counted ``batches`` training batches."""
    module.num_batches_tracked[...] = batches
    return module


def _without_running_stats(module: mt.Module) -> mt.Module:
    """A tracking BatchNorm whose running statistics were set to None by hand: batch statistics in
    eval too, the count still kept while training (torch's rule)."""
    module.running_mean = module.running_var = None
    return module


def _untracked(cls: type, channels: int = 3, **kwargs: object) -> mt.Module:
    return cls(channels, track_running_stats=False, **kwargs)


def _deep_net() -> mt.Module:
    return mt.Sequential(
        mt.Linear(4, 8), mt.BatchNorm1d(8), mt.GELU(), mt.Dropout(0.3),
        mt.Sequential(mt.Linear(8, 6), mt.LayerNorm(6), mt.Tanh()), mt.Linear(6, 3), mt.LogSoftmax(),
    )


def _edited_mlp() -> mt.Module:
    """A Sequential edited as PyTorch users edit one (tests/test_containers_edit.py has the rest)."""
    model = mt.Sequential(mt.Linear(4, 6), mt.ReLU(), mt.Linear(6, 5), mt.Sigmoid(), mt.Linear(5, 2))
    model[3] = mt.Tanh()
    del model[1]
    model.insert(1, mt.GELU())
    model += mt.Sequential(mt.ReLU())
    return model


LINEAR_CASES = [
    Case("Linear", lambda: mt.Linear(5, 3), (4, 5)),
    Case("Linear-no-bias", lambda: mt.Linear(5, 3, bias=False), (4, 5)),
    Case("Linear-3d-input", lambda: mt.Linear(3, 2), (2, 4, 3)),
    Case("Linear-batch-1", lambda: mt.Linear(3, 2), (1, 3)),
    Case("Linear-square", lambda: mt.Linear(4, 4), (3, 4)),
]

SHAPE_CASES = [
    Case("Flatten", lambda: mt.Flatten(), (2, 3, 2, 2)),
    Case("Flatten-middle", lambda: mt.Flatten(1, 2), (2, 3, 2, 2)),
    Case("Identity", lambda: mt.Identity(), (3, 4)),
]

ACTIVATION_CASES = [
    Case("Sigmoid", lambda: mt.Sigmoid(), (4, 6)),
    Case("ReLU", lambda: mt.ReLU(), (4, 6)),
    Case("Tanh", lambda: mt.Tanh(), (4, 6)),
    Case("LeakyReLU", lambda: mt.LeakyReLU(), (4, 6)),
    Case("LeakyReLU-0.3", lambda: mt.LeakyReLU(0.3), (4, 6)),
    Case("ELU", lambda: mt.ELU(), (4, 6)),
    Case("ELU-alpha-0.7", lambda: mt.ELU(alpha=0.7), (4, 6)),
    Case("GELU", lambda: mt.GELU(), (4, 6)),
    Case("GELU-tanh", lambda: mt.GELU(approximate="tanh"), (4, 6)),
]

SOFTMAX_CASES = [
    Case("Softmax", lambda: mt.Softmax(), (4, 6)),
    Case("Softmax-dim0", lambda: mt.Softmax(dim=0), (4, 3)),
    Case("Softmax-3d-dim1", lambda: mt.Softmax(dim=1), (2, 3, 4)),
    Case("LogSoftmax", lambda: mt.LogSoftmax(), (4, 6)),
    Case("LogSoftmax-3d-dim1", lambda: mt.LogSoftmax(dim=1), (2, 3, 4)),
]

DROPOUT_CASES = [
    Case("Dropout", lambda: mt.Dropout(0.4), (4, 6), oracle=False),  # torch cannot draw our mask
    Case("Dropout-eval", lambda: mt.Dropout(0.4).eval(), (4, 6)),
    # p = 1 drops everything: torch's x * 0, deterministic, so torch's twin checks it in training mode
    Case("Dropout-p1-train", lambda: mt.Dropout(1.0), (4, 6)),
]

NORMALIZATION_CASES = [
    Case("BatchNorm1d", lambda: _randomized(mt.BatchNorm1d(3)), (5, 3)),
    Case("BatchNorm1d-batch-2", lambda: _randomized(mt.BatchNorm1d(3)), (2, 3)),
    Case("BatchNorm1d-3d", lambda: _randomized(mt.BatchNorm1d(3)), (4, 3, 5)),
    Case("BatchNorm1d-no-affine", lambda: mt.BatchNorm1d(3, affine=False), (5, 3)),
    Case("BatchNorm1d-eval", lambda: _randomized(mt.BatchNorm1d(3)).eval(), (5, 3)),
    # momentum=None (cumulative average, factor 1 / num_batches_tracked) after 3 earlier batches: the
    # oracle compares the running statistics (review22: factor mutants survived every other case)
    Case("BatchNorm1d-cumulative-average", lambda: _tracked(_randomized(mt.BatchNorm1d(3, momentum=None)), 3),
         (4, 3)),
    # track_running_stats=False: batch statistics in eval too, no running statistics (torch's None)
    Case("BatchNorm1d-untracked", lambda: _randomized(_untracked(mt.BatchNorm1d)), (5, 3)),
    Case("BatchNorm1d-untracked-eval", lambda: _randomized(_untracked(mt.BatchNorm1d)).eval(), (5, 3)),
    Case("BatchNorm1d-3d-untracked-no-affine-eval", lambda: _untracked(mt.BatchNorm1d, affine=False).eval(),
         (4, 3, 5)),
    Case("BatchNorm2d-untracked-eval", lambda: _randomized(_untracked(mt.BatchNorm2d, 2)).eval(),
         (3, 2, 3, 4)),
    Case("BatchNorm1d-stats-set-to-None", lambda: _without_running_stats(_randomized(mt.BatchNorm1d(3))),
         (5, 3)),
    Case("BatchNorm2d-stats-set-to-None-eval",
         lambda: _without_running_stats(_randomized(mt.BatchNorm2d(2))).eval(), (3, 2, 3, 4)),
    Case("BatchNorm2d", lambda: _randomized(mt.BatchNorm2d(2)), (3, 2, 3, 4)),
    Case("BatchNorm2d-eval", lambda: _randomized(mt.BatchNorm2d(2)).eval(), (3, 2, 3, 4)),
    # an eps float32 cannot hold (ONNX's epsilon attribute is a float32: a float64 export must not use it)
    Case("BatchNorm2d-eval-eps-0.1", lambda: _randomized(mt.BatchNorm2d(2, eps=0.1)).eval(), (3, 2, 3, 4)),
    Case("LayerNorm-eps-0.1", lambda: _randomized(mt.LayerNorm(5, eps=0.1)), (4, 5)),
    Case("LayerNorm", lambda: _randomized(mt.LayerNorm(5)), (4, 5)),
    Case("LayerNorm-last-2-dims", lambda: _randomized(mt.LayerNorm((3, 4))), (2, 3, 4)),
    Case("LayerNorm-no-affine", lambda: mt.LayerNorm(5, elementwise_affine=False), (4, 5)),
    Case("LayerNorm-no-bias", lambda: _randomized(mt.LayerNorm(5, bias=False)), (1, 5)),
]

CONV_CASES = [
    Case("Conv2d", lambda: mt.Conv2d(2, 3, 3), (2, 2, 5, 6)),
    Case("Conv2d-stride-pad", lambda: mt.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 5, 4)),
    Case("Conv2d-dilation", lambda: mt.Conv2d(1, 2, 2, dilation=(2, 1), padding=1), (2, 1, 5, 4)),
    # "same" with an even kernel pads asymmetrically; torch warns once per process about it, which
    # would fail whichever test meets it first, so that case lives in test_conv.py and test_cnn.py
    Case("Conv2d-same-dilated", lambda: mt.Conv2d(2, 2, (2, 3), padding="same", dilation=2), (1, 2, 4, 5)),
    Case("Conv2d-no-bias-batch-1", lambda: mt.Conv2d(3, 2, 1, bias=False), (1, 3, 3, 2)),
    # padding="valid" spelled as a word (review22: a mutant making its pads 1 survived every case)
    Case("Conv2d-valid-word", lambda: mt.Conv2d(2, 2, 2, padding="valid"), (2, 2, 3, 4)),
]

POOLING_CASES = [
    Case("MaxPool2d", lambda: mt.MaxPool2d(2), (2, 3, 4, 5)),
    Case("MaxPool2d-overlap-pad", lambda: mt.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 6)),
    Case("AvgPool2d", lambda: mt.AvgPool2d(2), (2, 3, 4, 5)),
    Case("AvgPool2d-overlap-pad", lambda: mt.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1)), (2, 2, 5, 4)),
    Case("AdaptiveAvgPool2d-global", lambda: mt.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    Case("AdaptiveAvgPool2d-2x3", lambda: mt.AdaptiveAvgPool2d((2, 3)), (2, 2, 5, 7)),
    # ceil_mode, count_include_pad, divisor_override and unbatched (C, H, W) images (issue 15)
    Case("MaxPool2d-ceil", lambda: mt.MaxPool2d(3, stride=2, ceil_mode=True), (2, 2, 6, 7)),
    Case("MaxPool2d-ceil-pad", lambda: mt.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 5)),
    Case("AvgPool2d-ceil-include-pad", lambda: mt.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True),
         (1, 2, 6, 5)),
    Case("AvgPool2d-ceil-exclude-pad",
         lambda: mt.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 2, 6, 5)),
    Case("AvgPool2d-divisor-override", lambda: mt.AvgPool2d(2, padding=1, divisor_override=3), (2, 2, 4, 3)),
    # dilation, with padding and ceil_mode (their output sizes use the dilated span)
    Case("MaxPool2d-dilation", lambda: mt.MaxPool2d(2, stride=1, dilation=2), (2, 2, 5, 4)),
    Case("MaxPool2d-dilation-pad-ceil",
         lambda: mt.MaxPool2d((3, 2), stride=2, padding=1, dilation=(2, 3), ceil_mode=True), (1, 2, 6, 7)),
]

# one image without its batch axis, (C, H, W) in, (C', OH, OW) out, as torch (issue 15); the ONNX
# suite, whose graphs take a batch, leaves these out (``UNBATCHED``)
UNBATCHED_CASES = [
    Case("Conv2d-unbatched", lambda: mt.Conv2d(2, 3, 3, stride=(1, 2), padding=1), (2, 5, 4)),
    Case("MaxPool2d-unbatched", lambda: mt.MaxPool2d(2), (3, 4, 5)),
    Case("MaxPool2d-unbatched-ceil", lambda: mt.MaxPool2d(2, ceil_mode=True), (2, 5, 3)),
    Case("AvgPool2d-unbatched-exclude-pad", lambda: mt.AvgPool2d(3, 1, 1, count_include_pad=False),
         (2, 4, 5)),
    Case("AdaptiveAvgPool2d-unbatched", lambda: mt.AdaptiveAvgPool2d((2, 3)), (2, 5, 7)),
    Case("AdaptiveMaxPool2d-unbatched", lambda: mt.AdaptiveMaxPool2d((2, 3)), (2, 5, 7)),
    Case("Conv1d-unbatched", lambda: mt.Conv1d(2, 3, 3, stride=2, padding=1), (2, 7)),
    Case("ConvTranspose2d-unbatched", lambda: mt.ConvTranspose2d(2, 3, 2, stride=2, padding=1), (2, 3, 4)),
]

COMPOSITE_CASES = [
    Case("MLP", lambda: mt.Sequential(mt.Linear(4, 6), mt.ReLU(), mt.Linear(6, 5), mt.Sigmoid(),
                                      mt.Linear(5, 2)), (3, 4)),
    Case("CNN-small", lambda: mt.Sequential(mt.Conv2d(1, 3, 3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
                                            mt.Conv2d(3, 4, 2), mt.ReLU(), mt.AdaptiveAvgPool2d(1),
                                            mt.Flatten(), mt.Linear(4, 3)), (2, 1, 6, 6)),
    Case("MLP-edited", _edited_mlp, (3, 4)),  # children replaced, removed, inserted, appended
    Case("MLP-sliced", lambda: mt.Sequential(mt.Tanh(), mt.Linear(4, 6), mt.ReLU(), mt.Linear(6, 2))[1:],
         (3, 4)),  # children named "1", "2", "3", as torch's slice names them
    Case("Deep-net-train", _deep_net, (6, 4), oracle=False),  # its Dropout draws a mask torch cannot
    Case("Deep-net-eval", lambda: _randomized(_deep_net()).eval(), (6, 4)),
]

# --- attention and transformers (single-input modules; MultiheadAttention's cases are InputCases) -------
def _encoder_layer(**kwargs) -> mt.Module:
    return _randomized(mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, **kwargs))


# their PyTorch oracle is tests/test_transformer.py: float32 needs rtol 1e-4 there (the structurally zero
# key-bias gradient is float32 noise), tighter than this registry's shared float32 tolerance allows
TRANSFORMER_CASES = [
    Case("TransformerEncoderLayer-post-relu", lambda: _encoder_layer(), (3, 2, 4), oracle=False),
    Case("TransformerEncoderLayer-pre-gelu-batch-first",
         lambda: _encoder_layer(activation="gelu", norm_first=True, batch_first=True), (2, 3, 4),
         oracle=False),
    Case("TransformerEncoderLayer-no-bias-T1", lambda: _encoder_layer(bias=False, batch_first=True),
         (3, 1, 4), oracle=False),
    Case("TransformerEncoderLayer-dropout-train",
         lambda: mt.TransformerEncoderLayer(4, 2, 6, dropout=0.3, batch_first=True), (2, 3, 4), oracle=False),
    Case("TransformerEncoderLayer-dropout-1-train",  # every dropout zeroes: y = norm2(norm1(src))
         lambda: _randomized(mt.TransformerEncoderLayer(4, 2, 6, dropout=1.0, batch_first=True)), (2, 3, 4),
         oracle=False),
    Case("TransformerEncoder-2-layers-norm",
         lambda: _randomized(mt.TransformerEncoder(_encoder_layer(norm_first=True), 2, norm=mt.LayerNorm(4))),
         (3, 2, 4), oracle=False),
]

FAMILIES: dict[str, list[Case]] = {
    "linear": LINEAR_CASES,
    "shape": SHAPE_CASES,
    "activations": ACTIVATION_CASES,
    "softmax": SOFTMAX_CASES,
    "dropout": DROPOUT_CASES,
    "normalization": NORMALIZATION_CASES,
    "conv": CONV_CASES,
    "pooling": POOLING_CASES,
    "unbatched": UNBATCHED_CASES,
    "composite": COMPOSITE_CASES,
    "transformer": TRANSFORMER_CASES,
}

# The flat views: (id, factory, input_shape) for every case, and the ids that have a PyTorch twin
MODULE_CASES = [(c.id, c.factory, c.input_shape) for cases in FAMILIES.values() for c in cases]
ORACLE = {c.id for cases in FAMILIES.values() for c in cases if c.oracle}
UNBATCHED = {c.id for c in UNBATCHED_CASES}


# --- memory layouts: every module and loss must give the same numbers for any strided input -----------
def _fortran(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(a)


def _negative_strides(a: np.ndarray) -> np.ndarray:
    """The same values, viewed through negative strides on every axis (a flipped copy, flipped back)."""
    return np.flip(np.flip(a).copy())


def _sliced(a: np.ndarray) -> np.ndarray:
    """The same values, as every other element of a twice-as-wide array (a non-contiguous view)."""
    return np.repeat(a, 2, axis=-1)[..., ::2]


# name -> function returning an array equal to its argument but laid out differently in memory
LAYOUTS = {"fortran": _fortran, "negative-strides": _negative_strides, "sliced": _sliced}


# --- PyTorch habits (issue 15): more activations, spatial dropout, group norm, conv1d/transposed, resizing
def _prelu_channels() -> mt.Module:
    return _randomized(mt.PReLU(3))


_HABITS_CASES = [
    ("SiLU", lambda: mt.SiLU(), (4, 6)),
    ("Softplus", lambda: mt.Softplus(), (4, 6)),
    ("Softplus-beta-threshold", lambda: mt.Softplus(beta=2.0, threshold=1.5), (4, 6)),
    ("Mish", lambda: mt.Mish(), (4, 6)),
    ("Hardtanh", lambda: mt.Hardtanh(), (4, 6)),
    ("Hardtanh-range", lambda: mt.Hardtanh(-0.5, 2.0), (4, 6)),
    ("PReLU", lambda: mt.PReLU(), (4, 6)),
    ("PReLU-channels", _prelu_channels, (2, 3, 4)),
    ("PReLU-channels-4d", lambda: _randomized(mt.PReLU(2)), (2, 2, 3, 3)),
    ("Dropout2d", lambda: mt.Dropout2d(0.4), (3, 4, 2, 3)),
    ("Dropout2d-eval", lambda: mt.Dropout2d(0.4).eval(), (3, 4, 2, 3)),
    ("Dropout2d-p1-train", lambda: mt.Dropout2d(1.0), (3, 4, 2, 3)),  # every map zeroed, as torch
    ("GroupNorm", lambda: _randomized(mt.GroupNorm(2, 4)), (3, 4, 2, 3)),
    ("GroupNorm-3d-one-group", lambda: _randomized(mt.GroupNorm(1, 3)), (2, 3, 5)),
    ("GroupNorm-instance-no-affine", lambda: mt.GroupNorm(3, 3, affine=False), (2, 3, 2, 2)),
    ("Conv1d", lambda: mt.Conv1d(2, 3, 3), (2, 2, 7)),
    ("Conv1d-stride-pad-dilation", lambda: mt.Conv1d(3, 2, 2, stride=2, padding=2, dilation=2), (2, 3, 8)),
    ("Conv1d-same-no-bias", lambda: mt.Conv1d(2, 2, 3, padding="same", bias=False), (1, 2, 5)),
    ("ConvTranspose2d", lambda: mt.ConvTranspose2d(2, 3, 3), (2, 2, 3, 4)),
    ("ConvTranspose2d-stride-pad-outpad",
     lambda: mt.ConvTranspose2d(3, 2, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
     (2, 3, 3, 2)),
    ("ConvTranspose2d-dilation-no-bias", lambda: mt.ConvTranspose2d(2, 2, 2, dilation=2, bias=False),
     (1, 2, 3, 3)),
    # output_padding >= stride, < dilation: torch's other allowed range (rows no tap reaches, zero)
    ("ConvTranspose2d-outpad-below-dilation",
     lambda: mt.ConvTranspose2d(2, 2, (2, 3), stride=(1, 2), output_padding=(1, 2), dilation=(2, 3)),
     (2, 2, 3, 2)),
    ("Upsample-nearest", lambda: mt.Upsample(scale_factor=2), (2, 2, 3, 4)),
    ("Upsample-nearest-size", lambda: mt.Upsample(size=(5, 7)), (2, 2, 3, 4)),
    ("Upsample-bilinear", lambda: mt.Upsample(scale_factor=2, mode="bilinear"), (2, 2, 3, 4)),
    ("Upsample-bilinear-align", lambda: mt.Upsample(size=(5, 3), mode="bilinear", align_corners=True),
     (2, 2, 3, 4)),
    ("Upsample-bilinear-down", lambda: mt.Upsample(scale_factor=(0.5, 1.5), mode="bilinear"), (1, 2, 6, 4)),
    # sizes landing on H or 2H (floor(3 * 1.3) = 3, floor(3 * 2.2) = 6): torch's copy and o // 2 cases
    ("Upsample-nearest-size-lands-on-H-2H", lambda: mt.Upsample(scale_factor=(1.3, 2.2)), (2, 2, 3, 3)),
    ("Upsample-bilinear-size-lands-on-2H-H", lambda: mt.Upsample(scale_factor=(2.2, 1.2), mode="bilinear"),
     (1, 2, 3, 4)),
    # an output axis of length 1: torch samples the input's middle, (0 + 0.5) * H - 0.5 (ONNX's
    # pytorch_half_pixel would take row 0)
    ("Upsample-bilinear-to-one-row", lambda: mt.Upsample(size=(1, 3), mode="bilinear"), (2, 2, 5, 6)),
    # nearest by a scale whose sizes are neither H nor 2H: the rows follow 1 / scale_factor (mutants2)
    ("Upsample-nearest-scale-1.5", lambda: mt.Upsample(scale_factor=(1.5, 1.7)), (1, 2, 4, 3)),
    # align_corners to one row (src = 0, torch's guard against 0 / 0) and to two columns (the ends)
    ("Upsample-bilinear-align-to-1x2", lambda: mt.Upsample(size=(1, 2), mode="bilinear", align_corners=True),
     (1, 2, 3, 4)),
    # torch's 3-D input (N, C, L): a 1-D resize (sizes not landing on L or 2L, where torch's 1-D nearest
    # backward is not the gradient of its forward: tests/test_upsample_1d.py)
    ("Upsample-1d-nearest", lambda: mt.Upsample(scale_factor=1.5), (2, 2, 5)),
    ("Upsample-1d-linear", lambda: mt.Upsample(size=7, mode="linear"), (2, 2, 4)),
    ("Upsample-1d-linear-align", lambda: mt.Upsample(scale_factor=(2.5,), mode="linear", align_corners=True),
     (2, 3, 4)),
    ("AdaptiveMaxPool2d-global", lambda: mt.AdaptiveMaxPool2d(1), (2, 3, 4, 5)),
    ("AdaptiveMaxPool2d-overlap", lambda: mt.AdaptiveMaxPool2d((3, 2)), (2, 2, 5, 5)),
    ("Unflatten", lambda: mt.Unflatten(1, (2, 3)), (4, 6)),
    ("Unflatten-minus-one", lambda: mt.Unflatten(-1, (2, -1)), (2, 3, 4)),
    ("Generator-net", lambda: mt.Sequential(
        mt.Linear(3, 8), mt.Unflatten(1, (2, 2, 2)), mt.ConvTranspose2d(2, 3, 2, stride=2),
        _randomized(mt.GroupNorm(1, 3)), mt.SiLU(), mt.Upsample(scale_factor=2), mt.AdaptiveMaxPool2d(3),
        mt.Flatten(), mt.Linear(27, 2)), (2, 3)),
]

MODULE_CASES += _HABITS_CASES
# every one has a twin; Dropout2d in training mode draws its own masks (tests/test_layers_habits.py checks it)
ORACLE |= {case[0] for case in _HABITS_CASES} - {"Dropout2d"}


# --- more torch.nn activations and RMSNorm -------------------------------------------------------------
_ACTS2_CASES = [
    ("ReLU6", lambda: mt.ReLU6(), (4, 6)),
    ("SELU", lambda: mt.SELU(), (4, 6)),
    ("CELU", lambda: mt.CELU(), (4, 6)),
    ("CELU-alpha-0.6", lambda: mt.CELU(alpha=0.6), (4, 6)),
    ("Softsign", lambda: mt.Softsign(), (4, 6)),
    ("Hardswish", lambda: mt.Hardswish(), (4, 6)),
    ("Hardsigmoid", lambda: mt.Hardsigmoid(), (4, 6)),
    ("LogSigmoid", lambda: mt.LogSigmoid(), (4, 6)),
    ("Threshold", lambda: mt.Threshold(0.1, -2.0), (4, 6)),
    ("Softmin", lambda: mt.Softmin(dim=1), (4, 6)),
    ("Softmin-3d-dim0", lambda: mt.Softmin(dim=0), (2, 3, 4)),
    ("Tanhshrink", lambda: mt.Tanhshrink(), (4, 6)),
    ("Softshrink", lambda: mt.Softshrink(), (4, 6)),
    ("Softshrink-lambd-0.2", lambda: mt.Softshrink(0.2), (4, 6)),
    ("Hardshrink", lambda: mt.Hardshrink(), (4, 6)),
    ("Hardshrink-lambd-0.2", lambda: mt.Hardshrink(0.2), (4, 6)),
    ("GLU", lambda: mt.GLU(), (4, 6)),
    ("GLU-dim1-3d", lambda: mt.GLU(dim=1), (2, 4, 3)),
    ("RMSNorm", lambda: _randomized(mt.RMSNorm(6)), (4, 6)),
    ("RMSNorm-2d-eps", lambda: _randomized(mt.RMSNorm((3, 4), eps=1e-3)), (2, 3, 4)),
    ("RMSNorm-no-affine", lambda: mt.RMSNorm(5, elementwise_affine=False), (3, 5)),
]
MODULE_CASES += _ACTS2_CASES
ORACLE |= {case[0] for case in _ACTS2_CASES}

# --- several inputs, integer inputs, tuple outputs (CONTRACT §4) ---------------------------------
# InputCase(id, factory, make_inputs, oracle): make_inputs(rng) returns the tuple of positional
# inputs, passed as given (floating arrays are differentiated, integer ones not; nested tuples
# such as (h0, c0) allowed).
def _ids(high: int, shape: tuple[int, ...]):
    return lambda rng: (rng.integers(0, high, shape),)


EMBEDDING_CASES = [
    InputCase("Embedding", lambda: mt.Embedding(7, 3), _ids(7, (4, 5))),
    InputCase("Embedding-repeats-1d", lambda: mt.Embedding(3, 4), _ids(3, (9,))),
    # the padding row's gradient is zero by definition, not the numerical slope: gradcheck sees ids
    # without it (test_embedding.py checks the padding row against torch)
    InputCase("Embedding-padding", lambda: mt.Embedding(6, 2, padding_idx=1),
              lambda rng: (np.array([[3, 2, 3], [5, 0, 4]]),)),
    InputCase("Embedding-scalar-id", lambda: mt.Embedding(5, 3, padding_idx=-1), lambda rng: (np.array(2),)),
]


def _seq(shape: tuple[int, ...], *states: tuple[int, ...]):
    """Inputs x of ``shape`` and, if ``states`` are given, hx: one array, or a pair for LSTM."""
    def make(rng):
        x = rng.standard_normal(shape)
        if not states:
            return (x,)
        hx = tuple(rng.standard_normal(s) for s in states)
        return (x, hx if len(hx) == 2 else hx[0])
    return make


RECURRENT_CASES = [
    InputCase("RNN", lambda: mt.RNN(3, 2), _seq((4, 2, 3))),
    InputCase("RNN-relu-2-layers-h0", lambda: mt.RNN(2, 3, 2, nonlinearity="relu"),
              _seq((3, 2, 2), (2, 2, 3))),
    InputCase("RNN-bidirectional-batch-first", lambda: mt.RNN(2, 2, bidirectional=True, batch_first=True),
              _seq((2, 3, 2), (2, 2, 2))),
    InputCase("LSTM", lambda: mt.LSTM(3, 2), _seq((4, 2, 3))),
    InputCase("LSTM-h0-c0", lambda: mt.LSTM(2, 3), _seq((3, 2, 2), (1, 2, 3), (1, 2, 3))),
    InputCase("LSTM-2-layers-bidirectional", lambda: mt.LSTM(2, 2, num_layers=2, bidirectional=True),
              _seq((3, 2, 2), (4, 2, 2), (4, 2, 2))),
    InputCase("LSTM-batch-first-no-bias", lambda: mt.LSTM(2, 2, bias=False, batch_first=True),
              _seq((2, 3, 2))),
    InputCase("LSTM-unbatched", lambda: mt.LSTM(2, 3, num_layers=2), _seq((3, 2), (2, 3), (2, 3))),
    InputCase("LSTM-dropout-train", lambda: mt.LSTM(2, 2, num_layers=3, dropout=0.5), _seq((3, 2, 2)),
              oracle=False),  # torch's dropout masks differ
    # dropout = 1 drops every unit between layers: deterministic zeros, so torch's twin checks it
    InputCase("GRU-dropout-1-train", lambda: mt.GRU(2, 2, num_layers=2, dropout=1.0),
              _seq((3, 2, 2), (2, 2, 2))),
    # LSTM with projections: h0, h_n and the output have proj_size features, c0 and c_n hidden_size
    InputCase("LSTM-proj", lambda: mt.LSTM(3, 4, proj_size=2), _seq((4, 2, 3))),
    InputCase("LSTM-proj-2-layers-bidirectional-h0-c0",
              lambda: mt.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=1),
              _seq((3, 2, 2), (4, 2, 1), (4, 2, 3))),
    InputCase("LSTM-proj-3-layers-unbatched-batch-first-no-bias",
              lambda: mt.LSTM(2, 3, num_layers=3, bias=False, batch_first=True, proj_size=2),
              _seq((3, 2), (3, 2), (3, 3))),
    InputCase("GRU", lambda: mt.GRU(3, 2), _seq((4, 2, 3))),
    InputCase("GRU-2-layers-bidirectional-h0", lambda: mt.GRU(2, 2, num_layers=2, bidirectional=True),
              _seq((3, 2, 2), (4, 2, 2))),
    InputCase("GRU-unbatched-no-bias", lambda: mt.GRU(2, 3, bias=False), _seq((3, 2), (1, 3))),
    InputCase("RNNCell", lambda: mt.RNNCell(3, 2), _seq((2, 3), (2, 2))),
    InputCase("RNNCell-relu-no-h", lambda: mt.RNNCell(3, 2, nonlinearity="relu"), _seq((2, 3))),
    InputCase("LSTMCell", lambda: mt.LSTMCell(3, 2), _seq((2, 3), (2, 2), (2, 2))),
    InputCase("LSTMCell-unbatched-no-bias", lambda: mt.LSTMCell(2, 3, bias=False), _seq((2,), (3,), (3,))),
    InputCase("GRUCell", lambda: mt.GRUCell(3, 2), _seq((2, 3), (2, 2))),
    InputCase("GRUCell-unbatched-no-h", lambda: mt.GRUCell(2, 3), _seq((2,))),
]

def _qkv(L: int, S: int, N: int | None, E: int, kdim: int, vdim: int, batch_first: bool = False):
    """query, key, value: three distinct arrays ((L|S, N, F), or (N, L|S, F) batch-first, or unbatched)."""
    def make(rng):
        def shape(T, F):
            if N is None:
                return (T, F)
            return (N, T, F) if batch_first else (T, N, F)
        return tuple(rng.standard_normal(shape(T, F)) for T, F in ((L, E), (S, kdim), (S, vdim)))
    return make


# output (attn_output, attn_weights); backward returns (dquery, dkey, dvalue)
ATTENTION_CASES = [
    InputCase("MultiheadAttention", lambda: _randomized(mt.MultiheadAttention(4, 2)), _qkv(3, 4, 2, 4, 4, 4)),
    InputCase("MultiheadAttention-kdim-vdim-batch-first",
              lambda: _randomized(mt.MultiheadAttention(6, 3, kdim=2, vdim=5, batch_first=True)),
              _qkv(2, 3, 2, 6, 2, 5, batch_first=True)),
    InputCase("MultiheadAttention-unbatched-no-bias",
              lambda: _randomized(mt.MultiheadAttention(4, 4, bias=False)), _qkv(3, 2, None, 4, 4, 4)),
    InputCase("MultiheadAttention-T1", lambda: _randomized(mt.MultiheadAttention(2, 1)),
              _qkv(1, 1, 3, 2, 2, 2)),
    InputCase("MultiheadAttention-dropout-train", lambda: mt.MultiheadAttention(4, 2, dropout=0.4),
              _qkv(3, 3, 2, 4, 4, 4), oracle=False),  # torch cannot draw our mask
    # dropout = 1 zeroes every attention weight: deterministic, so torch's twin checks it in training mode
    InputCase("MultiheadAttention-dropout-1-train",
              lambda: _randomized(mt.MultiheadAttention(4, 2, dropout=1.0)), _qkv(3, 4, 2, 4, 4, 4)),
]

def _pooled(image_shape: tuple[int, ...], *pool_args, **pool_kwargs):
    """MaxUnpool2d's inputs: values of a MaxPool2d output's shape and that pool's indices of a random
    image (windows that do not overlap: every index once, so the gradient is the true one)."""
    def make(rng):
        pool = mt.MaxPool2d(*pool_args, return_indices=True, **pool_kwargs)
        _, indices = pool(rng.standard_normal(image_shape))
        return (rng.standard_normal(indices.shape), indices)
    return make


# tuple outputs with integer indices, and the unpool that takes them back (integer input: no gradient)
POOLING_INDEX_CASES = [
    InputCase("MaxPool2d-return-indices", lambda: mt.MaxPool2d(3, stride=2, padding=1, dilation=2,
                                                               return_indices=True, ceil_mode=True),
              lambda rng: (rng.standard_normal((2, 2, 7, 6)),), oracle=False),  # test_pooling_indices.py
    InputCase("MaxUnpool2d", lambda: mt.MaxUnpool2d(2), _pooled((2, 2, 4, 6), 2)),
    InputCase("MaxUnpool2d-pad-unbatched", lambda: mt.MaxUnpool2d((2, 3), padding=1),
              _pooled((2, 4, 7), (2, 3), padding=1)),
]

INPUT_FAMILIES: dict[str, list[InputCase]] = {"embedding": EMBEDDING_CASES, "recurrent": RECURRENT_CASES,
                                               "attention": ATTENTION_CASES}


# --- the transformer decoder: inputs (tgt, memory); backward returns (dtgt, dmemory) ---------------------
def _tgt_memory(T: int, S: int, N: int | None, d: int, batch_first: bool = False):
    def make(rng):
        def shape(L):
            if N is None:
                return (L, d)
            return (N, L, d) if batch_first else (L, N, d)
        return rng.standard_normal(shape(T)), rng.standard_normal(shape(S))
    return make


def _decoder_layer(**kwargs) -> mt.Module:
    return _randomized(mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0, **kwargs))


# torch's twin (tests/oracle.py compare_inputs: output, dtgt, dmemory and every parameter's gradient, the
# Linears' W / b paired with torch's weight / bias); tests/test_transformer_decoder.py adds the masks
DECODER_CASES = [
    InputCase("TransformerDecoderLayer-post-relu", lambda: _decoder_layer(), _tgt_memory(3, 4, 2, 4)),
    InputCase("TransformerDecoderLayer-pre-gelu-batch-first",
              lambda: _decoder_layer(activation="gelu", norm_first=True, batch_first=True),
              _tgt_memory(2, 3, 2, 4, batch_first=True)),
    InputCase("TransformerDecoderLayer-no-bias-unbatched", lambda: _decoder_layer(bias=False),
              _tgt_memory(3, 2, None, 4)),
    InputCase("TransformerDecoderLayer-dropout-train",
              lambda: mt.TransformerDecoderLayer(4, 2, 6, dropout=0.3, batch_first=True),
              _tgt_memory(2, 3, 2, 4, batch_first=True), oracle=False),  # torch cannot draw our masks
    InputCase("TransformerDecoder-2-layers-norm",
              lambda: _randomized(mt.TransformerDecoder(_decoder_layer(norm_first=True), 2,
                                                        norm=mt.LayerNorm(4))),
              _tgt_memory(3, 2, 2, 4)),
]
INPUT_FAMILIES["decoder"] = DECODER_CASES


# --- the encoder-decoder Transformer: inputs (src, tgt); backward returns (dsrc, dtgt) ----------------------
# torch's twin as the decoder's (output, dsrc, dtgt, every parameter's gradient); the masks:
# tests/test_transformer_model.py
TRANSFORMER_CASES = [
    InputCase("Transformer-post-relu",
              lambda: _randomized(mt.Transformer(4, 2, 1, 1, 6, dropout=0.0)), _tgt_memory(2, 3, 2, 4)),
    InputCase("Transformer-pre-gelu-batch-first-2-layers",
              lambda: _randomized(mt.Transformer(4, 2, 2, 2, 5, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True)),
              _tgt_memory(3, 2, 2, 4, batch_first=True)),
    InputCase("Transformer-no-bias-unbatched",
              lambda: _randomized(mt.Transformer(4, 2, 1, 1, 6, dropout=0.0, bias=False)),
              _tgt_memory(3, 2, None, 4)),
]
INPUT_FAMILIES["transformer"] = TRANSFORMER_CASES
INPUT_FAMILIES["pooling-indices"] = POOLING_INDEX_CASES

# The flat views: (id, factory, make_inputs) for every case, and the ids that have a PyTorch twin
INPUT_CASES = [(c.id, c.factory, c.make_inputs) for cases in INPUT_FAMILIES.values() for c in cases]
INPUT_ORACLE = {c.id for cases in INPUT_FAMILIES.values() for c in cases if c.oracle}


# --- 1-D pooling and padding layers (text CNNs and sequence models written the PyTorch way) -----------
# (ids, factories and input shapes; every one has a torch twin in tests/oracle.py)
_POOL1D_PAD_CASES = [
    ("MaxPool1d", lambda: mt.MaxPool1d(2), (2, 3, 7)),
    ("MaxPool1d-stride-pad-dilation-ceil",
     lambda: mt.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 2, 10)),
    ("MaxPool1d-unbatched-ceil", lambda: mt.MaxPool1d(2, ceil_mode=True), (3, 7)),
    ("AvgPool1d", lambda: mt.AvgPool1d(3, stride=2, padding=1), (2, 3, 8)),
    ("AvgPool1d-ceil-exclude-pad",
     lambda: mt.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 2, 8)),
    ("AvgPool1d-unbatched", lambda: mt.AvgPool1d(2, stride=1), (3, 5)),
    ("AdaptiveAvgPool1d", lambda: mt.AdaptiveAvgPool1d(3), (2, 3, 7)),
    ("AdaptiveAvgPool1d-unbatched", lambda: mt.AdaptiveAvgPool1d(4), (2, 6)),
    ("AdaptiveMaxPool1d-overlap", lambda: mt.AdaptiveMaxPool1d(4), (2, 3, 7)),
    ("AdaptiveMaxPool1d-unbatched", lambda: mt.AdaptiveMaxPool1d(2), (2, 5)),
    ("ZeroPad1d-crop", lambda: mt.ZeroPad1d((2, -1)), (2, 3, 5)),
    ("ConstantPad1d", lambda: mt.ConstantPad1d(2, -1.5), (2, 3, 4)),
    ("ConstantPad2d-crop", lambda: mt.ConstantPad2d((1, 2, -1, 1), 0.5), (2, 2, 3, 4)),
    ("ZeroPad2d", lambda: mt.ZeroPad2d(1), (2, 2, 3, 4)),
    ("ReflectionPad1d", lambda: mt.ReflectionPad1d((3, 1)), (2, 2, 5)),
    ("ReflectionPad2d-crop", lambda: mt.ReflectionPad2d((1, -1, 2, 0)), (2, 2, 3, 4)),
    ("ReflectionPad2d-unbatched", lambda: mt.ReflectionPad2d(2), (2, 3, 4)),
    ("ReplicationPad1d-crop", lambda: mt.ReplicationPad1d((4, -1)), (2, 2, 3)),
    ("ReplicationPad2d", lambda: mt.ReplicationPad2d((2, 1, 0, 3)), (2, 2, 3, 4)),
    ("CircularPad1d", lambda: mt.CircularPad1d((2, 3)), (2, 2, 4)),
    ("CircularPad1d-unbatched-crop", lambda: mt.CircularPad1d((-1, 3)), (2, 5)),
    ("CircularPad2d-crop", lambda: mt.CircularPad2d((1, -1, 2, 1)), (2, 2, 3, 4)),
    ("Text-CNN", lambda: mt.Sequential(
        mt.Conv1d(3, 4, 3), mt.ReLU(), mt.ConstantPad1d((1, 0), 0.0), mt.MaxPool1d(2), mt.ReflectionPad1d(1),
        mt.AvgPool1d(2, stride=1), mt.AdaptiveMaxPool1d(2), mt.Flatten(), mt.Linear(8, 2)), (2, 3, 9)),
]
MODULE_CASES += _POOL1D_PAD_CASES
ORACLE |= {case[0] for case in _POOL1D_PAD_CASES}
UNBATCHED |= {case[0] for case in _POOL1D_PAD_CASES if "unbatched" in case[0]}


def _pooled1d(sequence_shape: tuple[int, ...], *pool_args, **pool_kwargs):
    """MaxUnpool1d's inputs: values of a MaxPool1d output's shape and that pool's indices of a random
    sequence (windows that do not overlap: every index once)."""
    def make(rng):
        pool = mt.MaxPool1d(*pool_args, return_indices=True, **pool_kwargs)
        _, indices = pool(rng.standard_normal(sequence_shape))
        return (rng.standard_normal(indices.shape), indices)
    return make


INPUT_FAMILIES["pooling-1d-indices"] = POOLING_1D_INDEX_CASES = [
    InputCase("MaxPool1d-return-indices", lambda: mt.MaxPool1d(3, stride=2, padding=1, dilation=2,
                                                               return_indices=True, ceil_mode=True),
              lambda rng: (rng.standard_normal((2, 2, 9)),), oracle=False),  # test_pooling_1d.py
    InputCase("AdaptiveMaxPool1d-return-indices", lambda: mt.AdaptiveMaxPool1d(3, return_indices=True),
              lambda rng: (rng.standard_normal((2, 2, 7)),), oracle=False),  # test_pooling_1d.py
    InputCase("MaxUnpool1d", lambda: mt.MaxUnpool1d(2), _pooled1d((2, 2, 6), 2)),
    InputCase("MaxUnpool1d-pad-unbatched", lambda: mt.MaxUnpool1d(3, padding=1),
              _pooled1d((2, 7), 3, padding=1)),
]
INPUT_CASES += [(c.id, c.factory, c.make_inputs) for c in POOLING_1D_INDEX_CASES]
INPUT_ORACLE |= {c.id for c in POOLING_1D_INDEX_CASES if c.oracle}
