"""Code that changes every global setting and leaves it changed, as a test or doc page that forgets
its cleanup would: tests/test_global_state.py runs it as a test, tests/test_docs_blocks.py as a page."""

LEAK_EVERY_SETTING = """\
import numpy as np
import torch

import minitorch as mt

mt.set_default_dtype(np.float64)
mt.kernels.use_kernels(not mt.kernels.kernels_enabled())
mt.set_num_threads(1)
mt.no_grad().__enter__()  # never exited
torch.set_default_dtype(torch.float64)
mt.manual_seed(123)
"""
