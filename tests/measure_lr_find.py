"""Measurement for docs/diagnostics.md: lr_find's suggestion against a 7-point log grid of rates.

For spirals (examples/solve_spirals.py's modern recipe: BatchNorm/ReLU/Dropout MLP, Adam, cosine
schedule, 60 epochs) and digits (examples/solve_digits.py: conv net, SGD, MultiStepLR, 20 epochs),
train once per grid rate and once at lr_find's suggestion (found on the untrained model), and
print the held-out accuracies. Run: OPENBLAS_NUM_THREADS=1 python tests/measure_lr_find.py [seed]
"""

from __future__ import annotations

import sys

import numpy as np

import minitorch as mt


def spirals(seed):
    X, y = mt.datasets.make_spirals(n_samples=1500, n_classes=3, seed=seed)
    split = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)

    def build():
        blocks = []
        for fan_in, fan_out in ((2, 128), (128, 128), (128, 128)):
            blocks += [mt.Linear(fan_in, fan_out), mt.BatchNorm1d(fan_out), mt.ReLU(), mt.Dropout(0.05)]
        return mt.Sequential(*blocks, mt.Linear(128, 3))

    def optimizer(model, lr):
        return mt.Adam(model.parameters(), lr=lr)

    def scheduler(opt, epochs):
        return mt.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    return split, build, optimizer, scheduler, 128, 60, np.logspace(-4, -1, 7)


def digits(seed):
    X, y = mt.datasets.load_digits()
    split = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)

    def build():
        return mt.Sequential(
            mt.Conv2d(1, 16, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
            mt.Conv2d(16, 32, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
            mt.Flatten(), mt.Linear(32 * 2 * 2, 10),
        )

    def optimizer(model, lr):
        return mt.SGD(model.parameters(), lr=lr)

    def scheduler(opt, epochs):
        return mt.lr_scheduler.MultiStepLR(opt, milestones=[int(0.75 * epochs)], gamma=0.1)

    return split, build, optimizer, scheduler, 16, 20, np.logspace(-3, 0, 7)


def train(task, seed, lr):
    (X_train, X_test, y_train, y_test), build, make_opt, make_sched, batch, epochs, _ = task
    mt.manual_seed(seed)
    model = build()
    opt = make_opt(model, lr)
    loader = mt.DataLoader(X_train, y_train, batch_size=batch, shuffle=True)
    mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=epochs, scheduler=make_sched(opt, epochs),
           metrics=(), verbose=0)
    with mt.no_grad():
        return float(np.mean(np.argmax(model.eval()(X_test), axis=1) == y_test))


def suggestion(task, seed, rule):
    (X_train, _, y_train, _), build, make_opt, _, batch, _, _ = task
    mt.manual_seed(seed)
    model = build()
    loader = mt.DataLoader(X_train, y_train, batch_size=batch, shuffle=True)
    return mt.lr_find(model, mt.CrossEntropyLoss(), make_opt(model, 1e-3), loader, rule=rule).suggestion


def main(seed=0):
    for name, make in (("spirals", spirals), ("digits", digits)):
        task = make(seed)
        grid = {float(lr): train(task, seed, lr) for lr in task[-1]}
        best = max(grid, key=grid.get)
        print(name, "grid:", ", ".join(f"{lr:.2g}: {acc:.2%}" for lr, acc in grid.items()), flush=True)
        for rule in ("valley", "steepest"):
            lr = suggestion(task, seed, rule)
            acc = train(task, seed, lr)
            print(f"{name} {rule}: suggestion {lr:.3g} -> {acc:.2%}; best grid {best:.2g} -> "
                  f"{grid[best]:.2%}; gap {100 * (grid[best] - acc):.2f} points", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
