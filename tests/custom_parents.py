"""Custom parents for the container-editing tests: Modules whose forward chains the members of a
ModuleList or ModuleDict (not a Sequential), so their backward follows the calls the forward recorded."""

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


class Heads(mt.Module):
    """Linear(3, 3) then Tanh, held in a ModuleDict as "a" and "b", chained by ``forward``."""

    def __init__(self) -> None:
        super().__init__()
        self.heads = mt.ModuleDict({"a": mt.Linear(3, 3), "b": mt.Tanh()})

    def forward(self, x):
        return self.heads["b"](self.heads["a"](x))
