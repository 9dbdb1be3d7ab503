"""MiniTorch: neural networks from first principles on NumPy.

Every layer has a hand-written forward and backward; see ``minitorch.module`` for the contract.
"""

from minitorch import datasets
from minitorch.data import DataLoader, train_test_split
from minitorch.dtypes import get_default_dtype, set_default_dtype
from minitorch.gradcheck import GradcheckError, gradcheck
from minitorch.layers import Flatten, Identity, Linear, ReLU, Sigmoid
from minitorch.layers.conv import Conv2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.losses import CrossEntropyLoss, Loss, MSELoss
from minitorch.model_utils import ModelFileError, load_model, save_model
from minitorch.module import Module, Parameter, Sequential
from minitorch.optimizers import SGD, Optimizer
from minitorch.random import manual_seed

__version__ = "0.1.0"

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "Conv2d",
    "MaxPool2d",
    "CrossEntropyLoss",
    "DataLoader",
    "Flatten",
    "GradcheckError",
    "Identity",
    "Linear",
    "Loss",
    "MSELoss",
    "ModelFileError",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "SGD",
    "Sequential",
    "Sigmoid",
    "datasets",
    "get_default_dtype",
    "gradcheck",
    "load_model",
    "manual_seed",
    "save_model",
    "set_default_dtype",
    "train_test_split",
]
