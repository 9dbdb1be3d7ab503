"""See backprop happen: diagnose a model, a Diagnostics callback, lr_find, explain, check_backward.

One concept per file: ``probe`` (the layer-by-layer walk), ``stats`` (a check's statistics),
``stats_records`` (the rows a report shows), ``measures`` (one array's activation fractions and
samples), ``findings`` (verdicts and the report), ``diagnose``, ``callback`` (``Diagnostics`` for
``mt.fit``), ``lr_find`` (and ``lr_curve``, its picture), ``explain``, ``check_backward``.
"""

from minitorch.diagnostics.callback import Diagnostics
from minitorch.diagnostics.check_backward import check_backward
from minitorch.diagnostics.diagnose import diagnose
from minitorch.diagnostics.explain import explain
from minitorch.diagnostics.findings import KINDS, Finding, Report
from minitorch.diagnostics.lr_find import LRFinderResult, lr_find

__all__ = ["KINDS", "Diagnostics", "Finding", "LRFinderResult", "Report", "check_backward", "diagnose",
           "explain", "lr_find"]
