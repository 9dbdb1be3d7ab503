"""Losses: ``loss_fn(input, target)`` returns the loss; ``loss_fn.backward(dloss)`` returns dL/d(input).

One family per file, every name re-exported here: ``base`` (Loss and the shared reduction),
``regression`` (MSE, L1, Huber, SmoothL1), ``classification`` (CrossEntropy, NLL), ``binary`` (BCE,
BCEWithLogits), ``divergence`` (KLDiv).
"""

from minitorch.losses.base import Loss, LossValue
from minitorch.losses.binary import BCELoss, BCEWithLogitsLoss
from minitorch.losses.class_margin import MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss
from minitorch.losses.classification import CrossEntropyLoss, NLLLoss
from minitorch.losses.divergence import KLDivLoss
from minitorch.losses.likelihood import GaussianNLLLoss, PoissonNLLLoss
from minitorch.losses.margin import HingeEmbeddingLoss, SoftMarginLoss
from minitorch.losses.ranking import CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss
from minitorch.losses.regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "Loss", "MSELoss",
    "NLLLoss", "SmoothL1Loss", "LossValue",
    "GaussianNLLLoss", "PoissonNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
    "TripletMarginLoss",
]
