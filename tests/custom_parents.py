"""A custom parent for the container-editing tests: a Module whose forward chains its ModuleList
(not a Sequential), so its backward follows the calls its forward recorded."""

from __future__ import annotations

import minitorch as mt


class Tower(mt.Module):
    """Linear(3, 3), ReLU, Linear(3, 3) in a ModuleList, chained by ``forward``."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = mt.ModuleList([mt.Linear(3, 3), mt.ReLU(), mt.Linear(3, 3)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
