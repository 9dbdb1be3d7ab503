"""Layers: one family per file, every name re-exported here."""

from minitorch.layers.activations import ReLU, Sigmoid
from minitorch.layers.linear import Linear

__all__ = ["Linear", "ReLU", "Sigmoid"]
