"""Saving and loading models: the names live in ``minitorch.model_files``, re-exported here."""

from minitorch.model_files import *  # noqa: F403  (the same names, where they always were)
from minitorch.model_files import __all__  # noqa: F401
