"""See backprop happen: diagnose a model, a Diagnostics callback, lr_find, explain, check_backward.

One concept per file: ``probe`` (the layer-by-layer walk), ``findings`` (verdicts and the report),
``diagnose``, ``callback`` (``Diagnostics`` for ``mt.fit``).
"""

from minitorch.diagnostics.callback import Diagnostics
from minitorch.diagnostics.diagnose import diagnose
from minitorch.diagnostics.findings import KINDS, Finding, Report

__all__ = ["KINDS", "Diagnostics", "Finding", "Report", "diagnose"]
