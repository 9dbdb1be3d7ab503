"""Layers: one family per file, every name re-exported here."""

from minitorch.layers.activations import ReLU, Sigmoid
from minitorch.layers.conv import Conv2d
from minitorch.layers.flatten import Flatten
from minitorch.layers.linear import Identity, Linear
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "Identity",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
]
