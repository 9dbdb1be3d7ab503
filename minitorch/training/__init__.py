"""Training conveniences around the explicit loop: fit, evaluate, predict and their History."""

from minitorch.training.history import History
from minitorch.training.inference import evaluate, predict
from minitorch.training.loop import NonFiniteLossError, fit

__all__ = ["History", "NonFiniteLossError", "evaluate", "fit", "predict"]
