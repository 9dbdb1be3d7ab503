"""Losses: ``loss_fn(input, target)`` returns the loss; ``loss_fn.backward(dloss)`` returns dL/d(input).

One family per file, every name re-exported here: ``base`` (Loss and the shared reduction),
``regression`` (MSE, L1, Huber, SmoothL1), ``classification`` (CrossEntropy, NLL, BCE, BCEWithLogits).
"""

from minitorch.losses.base import Loss, LossValue
from minitorch.losses.classification import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from minitorch.losses.regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss", "LossValue",
]
