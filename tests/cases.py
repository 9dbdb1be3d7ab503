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
    ("Conv2d", lambda: mt.Conv2d(2, 3, 3), (2, 2, 5, 6)),
    ("Conv2d-stride-pad", lambda: mt.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 5, 4)),
    ("Conv2d-dilation", lambda: mt.Conv2d(1, 2, 2, dilation=(2, 1), padding=1), (2, 1, 5, 4)),
    ("Conv2d-same-even-kernel", lambda: mt.Conv2d(2, 2, (2, 4), padding="same"), (1, 2, 4, 5)),
    ("Conv2d-no-bias-batch-1", lambda: mt.Conv2d(3, 2, 1, bias=False), (1, 3, 3, 2)),
    ("MaxPool2d", lambda: mt.MaxPool2d(2), (2, 3, 4, 5)),
    ("MaxPool2d-overlap-pad", lambda: mt.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 6)),
    ("AvgPool2d", lambda: mt.AvgPool2d(2), (2, 3, 4, 5)),
    ("AvgPool2d-overlap-pad", lambda: mt.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1)), (2, 2, 5, 4)),
    ("AdaptiveAvgPool2d-global", lambda: mt.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    ("AdaptiveAvgPool2d-2x3", lambda: mt.AdaptiveAvgPool2d((2, 3)), (2, 2, 5, 7)),
    ("CNN", lambda: mt.Sequential(mt.Conv2d(1, 3, 3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
                                  mt.Conv2d(3, 4, 2), mt.ReLU(), mt.AdaptiveAvgPool2d(1), mt.Flatten(),
                                  mt.Linear(4, 3)), (2, 1, 6, 6)),
]

# ids of MODULE_CASES that also have a PyTorch twin in tests/oracle.py
ORACLE = {
    "Flatten", "Flatten-middle", "Identity", "Linear", "Linear-no-bias", "Linear-3d-input",
    "Linear-batch-1", "Sigmoid", "ReLU", "MLP",
    "Conv2d", "Conv2d-stride-pad", "Conv2d-dilation", "Conv2d-same-even-kernel", "Conv2d-no-bias-batch-1",
    "MaxPool2d", "MaxPool2d-overlap-pad", "AvgPool2d", "AvgPool2d-overlap-pad", "AdaptiveAvgPool2d-global",
    "AdaptiveAvgPool2d-2x3", "CNN",
}
