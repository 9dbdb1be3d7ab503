"""Registry of module cases: adding a layer to the gradcheck and oracle suites is one line here.

Each case is (id, factory, input_shape). The factory builds the module in the current default
dtype; ``input_shape`` includes the batch dimension. ``ORACLE`` marks cases with a PyTorch twin.
"""

from __future__ import annotations

import minitorch as mt

MODULE_CASES = [
    ("Linear", lambda: mt.Linear(5, 3), (4, 5)),
    ("Linear-no-bias", lambda: mt.Linear(5, 3, bias=False), (4, 5)),
    ("Linear-3d-input", lambda: mt.Linear(3, 2), (2, 4, 3)),
    ("Linear-batch-1", lambda: mt.Linear(3, 2), (1, 3)),
    ("Sigmoid", lambda: mt.Sigmoid(), (4, 6)),
    ("ReLU", lambda: mt.ReLU(), (4, 6)),
    ("Flatten", lambda: mt.Flatten(), (2, 3, 2, 2)),
    ("Flatten-middle", lambda: mt.Flatten(1, 2), (2, 3, 2, 2)),
    ("Identity", lambda: mt.Identity(), (3, 4)),
    ("MLP", lambda: mt.Sequential(mt.Linear(4, 6), mt.ReLU(), mt.Linear(6, 5), mt.Sigmoid(), mt.Linear(5, 2)),
     (3, 4)),
]

# ids of MODULE_CASES that also have a PyTorch twin in tests/oracle.py
ORACLE = {
    "Flatten", "Flatten-middle", "Identity", "Linear", "Linear-no-bias", "Linear-3d-input",
    "Linear-batch-1", "Sigmoid", "ReLU", "MLP",
}
