"""Model files people can trust and share: self-describing, safe, atomic.

- ``save_model`` / ``load_model``: weights + architecture in one ``.npz``; ``load_model(path)``
  rebuilds the model with no code from you (``models.py``).
- ``save_checkpoint`` / ``load_checkpoint``: model, optimizer state, epoch, metadata and the
  random generator, for bitwise-exact resumption (``checkpoint.py``).
- ``register_module``: let files name your own Module subclasses (``registry.py``); the architecture
  written as JSON (``architecture.py``) and rebuilt from it (``rebuild.py``, within ``budget.py``'s
  allocation budget, in ``file_dtypes.py``'s dtypes).
- ``ModelFileError``: every damaged, forged or mismatching file ends here (``format.py``).
"""

from minitorch.model_files.checkpoint import load_checkpoint, save_checkpoint
from minitorch.model_files.format import ModelFileError, atomic_write, atomic_write_npz, read_npz
from minitorch.model_files.models import load_model, save_model
from minitorch.model_files.registry import register_module

__all__ = [
    "ModelFileError",
    "atomic_write",
    "atomic_write_npz",
    "load_checkpoint",
    "load_model",
    "read_npz",
    "register_module",
    "save_checkpoint",
    "save_model",
]
