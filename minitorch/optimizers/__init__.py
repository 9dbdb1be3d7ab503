"""Optimizers: update Parameters in place from their gradients, exactly as torch.optim does.

One update rule per file; ``Optimizer`` (optimizer.py) holds the param_groups, the per-Parameter
state and ``state_dict`` / ``load_state_dict``.
"""

from minitorch.optimizers.adam import Adam
from minitorch.optimizers.adamw import AdamW
from minitorch.optimizers.optimizer import Optimizer
from minitorch.optimizers.rmsprop import RMSprop
from minitorch.optimizers.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD"]

# PyTorch habits (issue 15); torch.optim's remaining single-update rules
from minitorch.optimizers.adadelta import Adadelta
from minitorch.optimizers.adagrad import Adagrad
from minitorch.optimizers.adamax import Adamax
from minitorch.optimizers.asgd import ASGD
from minitorch.optimizers.nadam import NAdam
from minitorch.optimizers.radam import RAdam
from minitorch.optimizers.rprop import Rprop

__all__ += ["Adagrad", "NAdam", "RAdam"]
__all__ += ["ASGD", "Adadelta", "Adamax", "Rprop"]

