"""Containers: ``Sequential`` (a chain with its backward), ``ModuleList`` and ``ModuleDict`` (holders).

sequential.py   Sequential
holders.py      ModuleList, ModuleDict
editing.py      what their edits share (torch's index rules, renaming, waiting forward calls)
"""

from minitorch.containers.holders import ModuleDict, ModuleList
from minitorch.containers.sequential import Sequential

__all__ = ["ModuleDict", "ModuleList", "Sequential"]
