"""Move models between MiniTorch and PyTorch: ``to_torch(model)`` and ``from_torch(torch_module)``.

Both directions build the equivalent module tree (``Sequential`` <-> ``torch.nn.Sequential``) with
copies of the weights and buffers, in the same dtype, and carry each module's training flag,
each Parameter's ``requires_grad`` (a frozen layer stays frozen) and ties (a Parameter shared by
two layers stays one). ``from_torch`` builds each module in its torch twin's dtype (the
constructors' ``dtype=``; the default dtype is never touched); a module whose floating arrays
mix dtypes is a TypeError.
A model of another class converts when its forward is a plain chain of its children (each child
gets the previous output, the model returns the last): it becomes a ``Sequential`` of the children
in call order (``to_torch`` needs an example input to record the chain; ``from_torch`` reads
torch's chain with ``torch.fx``). Anything else is a TypeError saying so.
Layers are matched by class (``LAYERS`` is keyed by MiniTorch's classes; torch's have the same
names). The only change of layout is Linear's weight: MiniTorch stores W (in, out), PyTorch
``weight`` (out, in) = W.T.

torch is optional: it is imported when one of these functions is called, with a clear message if
it is missing. Neither function draws from MiniTorch's or PyTorch's random generator.

The package, one concept a file: ``convert_to_torch.py`` (``to_torch`` and its converters) and
``convert_from_torch.py`` (``from_torch`` and its converters) over ``layer_table.py`` (``LAYERS``,
``ATTENTION_LAYERS``, ``NOT_CONVERTIBLE``; importing it fills ``module.TORCH_STATE_NAMES`` and
``module.TORCH_LAYOUT``), ``twin_state.py`` (state arrays, requires_grad and ties between twins),
``attention_settings.py`` (attention and transformer settings, read from either library) and
``checks.py`` (the refusals both directions share).
"""

from minitorch.interop.convert_from_torch import from_torch
from minitorch.interop.convert_to_torch import to_torch
from minitorch.interop.layer_table import ATTENTION_LAYERS, LAYERS, NOT_CONVERTIBLE
from minitorch.interop.twin_state import _torch_state_names  # noqa: F401  (tests/test_init.py reads it)

__all__ = ["ATTENTION_LAYERS", "LAYERS", "NOT_CONVERTIBLE", "from_torch", "to_torch"]
