"""The four seeded problems of issue 17 and the bundled examples' set-ups, for the diagnostics tests.

Each problem builds (model, optimizer, loader) from a seed; training one epoch with
``mt.Diagnostics`` must report the matching kind. Small nets, so 20 seeds stay fast.
"""

from __future__ import annotations

import numpy as np

import minitorch as mt


def spirals(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Three spirals, standardised (each feature mean 0, std 1) as inputs should be."""
    X, y = mt.datasets.make_spirals(n_samples=n, n_classes=3, seed=seed)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def dead_relu(seed: int):
    mt.manual_seed(seed)
    X, y = spirals(seed)
    model = mt.Sequential(mt.Linear(2, 32), mt.ReLU(), mt.Linear(32, 32), mt.ReLU(), mt.Linear(32, 3))
    model[0].b.data[:] = -5.0
    return model, mt.SGD(model.parameters(), lr=0.1), mt.DataLoader(X, y, batch_size=32, shuffle=True)


def saturated_tanh(seed: int):
    mt.manual_seed(seed)
    X, y = spirals(seed)
    model = mt.Sequential(mt.Linear(2, 64), mt.Tanh(), mt.Linear(64, 64), mt.Tanh(), mt.Linear(64, 3))
    for p in model.parameters():
        if p.data.ndim == 2:
            p.data *= 5.0
    return model, mt.SGD(model.parameters(), lr=0.1), mt.DataLoader(X, y, batch_size=32, shuffle=True)


def deep_sigmoid(seed: int, depth: int = 20):
    mt.manual_seed(seed)
    X, y = spirals(seed)
    layers: list[mt.Module] = []
    for i in range(depth):
        layers += [mt.Linear(2 if i == 0 else 32, 32), mt.Sigmoid()]
    model = mt.Sequential(*layers, mt.Linear(32, 3))
    return model, mt.SGD(model.parameters(), lr=0.1), mt.DataLoader(X, y, batch_size=32, shuffle=True)


def lr_times_100(seed: int):
    mt.manual_seed(seed)
    X, y = spirals(seed)
    model = mt.Sequential(mt.Linear(2, 32), mt.ReLU(), mt.Linear(32, 3))
    return model, mt.SGD(model.parameters(), lr=0.1 * 100), mt.DataLoader(X, y, batch_size=32, shuffle=True)


PROBLEMS = {"dead_relu": dead_relu, "saturated": saturated_tanh, "vanishing_gradients": deep_sigmoid,
            "lr_too_high": lr_times_100}


def iris(seed: int):
    """examples/solve_iris.py's set-up (standardised features, Linear-ReLU-Linear, SGD 0.1, batch 16)."""
    mt.manual_seed(seed)
    X, y = mt.datasets.load_iris()
    X_train, _, y_train, _ = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    X_train = (X_train - X_train.mean(axis=0)) / X_train.std(axis=0)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    loader = mt.DataLoader(X_train, y_train, batch_size=16, shuffle=True)
    return model, mt.SGD(model.parameters(), lr=0.1), loader


def spirals_plain(seed: int):
    """examples/solve_spirals.py's first model: Linear-Sigmoid-Linear, plain SGD 0.1, batch 128."""
    mt.manual_seed(seed)
    X, y = mt.datasets.make_spirals(n_samples=1500, n_classes=3, seed=seed)
    X_train, _, y_train, _ = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    model = mt.Sequential(mt.Linear(2, 32), mt.Sigmoid(), mt.Linear(32, 3))
    loader = mt.DataLoader(X_train, y_train, batch_size=128, shuffle=True)
    return model, mt.SGD(model.parameters(), lr=0.1), loader


def spirals_modern(seed: int):
    """examples/solve_spirals.py's second model: BatchNorm, ReLU, Dropout, Adam 1e-2, batch 128."""
    mt.manual_seed(seed)
    X, y = mt.datasets.make_spirals(n_samples=1500, n_classes=3, seed=seed)
    X_train, _, y_train, _ = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    blocks: list[mt.Module] = []
    for fan_in, fan_out in ((2, 128), (128, 128), (128, 128)):
        blocks += [mt.Linear(fan_in, fan_out), mt.BatchNorm1d(fan_out), mt.ReLU(), mt.Dropout(0.05)]
    model = mt.Sequential(*blocks, mt.Linear(128, 3))
    loader = mt.DataLoader(X_train, y_train, batch_size=128, shuffle=True)
    return model, mt.Adam(model.parameters(), lr=1e-2), loader


def digits(seed: int):
    """examples/solve_digits.py's set-up: two conv blocks and a Linear head, SGD 0.1, batch 16."""
    mt.manual_seed(seed)
    X, y = mt.datasets.load_digits()
    X_train, _, y_train, _ = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    model = mt.Sequential(
        mt.Conv2d(1, 16, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
        mt.Conv2d(16, 32, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
        mt.Flatten(), mt.Linear(32 * 2 * 2, 10),
    )
    loader = mt.DataLoader(X_train, y_train, batch_size=16, shuffle=True)
    return model, mt.SGD(model.parameters(), lr=0.1), loader


EXAMPLES = {"iris": (iris, 200), "spirals_plain": (spirals_plain, 60),
            "spirals_modern": (spirals_modern, 60), "digits": (digits, 20)}  # name -> (set-up, epochs)


def train_with_diagnostics(setup, seed: int, epochs: int = 1, every: int = 50):
    model, optimizer, loader = setup(seed)
    diag = mt.Diagnostics(every=every, verbose=False)
    mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=epochs, metrics=(), callbacks=[diag],
           verbose=0, stop_on_nan=False)
    return diag
