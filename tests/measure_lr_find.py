"""Measurement for docs/diagnostics.md: lr_find's suggestion against a 7-point log grid of rates.

For spirals (examples/solve_spirals.py's modern recipe: BatchNorm/ReLU/Dropout MLP, Adam, cosine
schedule, 60 epochs) and digits (examples/solve_digits.py: conv net, SGD, MultiStepLR, 20 epochs),
train once per grid rate and once at each rule's suggestion (one lr_find sweep on the untrained
model, the rules applied to its curve), and print the held-out accuracies. Rules: "valley"
(fastai's, the default of ``mt.lr_find``) and "valley-untrimmed" (the whole curve, the rate
halfway into the longest decreasing run: the library's rule before fastai's was adopted).
Seeds 0-2 were looked at when the rules were chosen; seeds 3-5 are held out.
Each result is appended to outputs/lr_find_grid.jsonl (reruns reuse it).
Run: OPENBLAS_NUM_THREADS=1 python tests/measure_lr_find.py [seed ...]
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

import minitorch as mt
from minitorch.diagnostics.lr_find import longest_decrease


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


def previous_valley(lrs, smoothed):
    """The whole curve; the rate halfway into the longest decreasing run (no trimming)."""
    end, length = longest_decrease(smoothed)
    start = end - length + 1
    return float(lrs[start + (end - start) // 2])


def suggestions(task, seed, num_iter):
    (X_train, _, y_train, _), build, make_opt, _, batch, _, _ = task
    mt.manual_seed(seed)
    model = build()
    loader = mt.DataLoader(X_train, y_train, batch_size=batch, shuffle=True)
    result = mt.lr_find(model, mt.CrossEntropyLoss(), make_opt(model, 1e-3), loader, num_iter=num_iter)
    return {"valley": result.suggestion, "valley-untrimmed": previous_valley(result.lrs, result.smoothed)}


RESULTS = "outputs/lr_find_grid.jsonl"


def cached():
    done = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            for line in f:
                row = json.loads(line)
                done[(row["task"], row["seed"], row["lr"])] = row["accuracy"]
    return done


def accuracy(done, name, task, seed, lr):
    key = (name, seed, float(f"{lr:.6g}"))
    if key not in done:
        done[key] = train(task, seed, key[2])
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps({"task": name, "seed": seed, "lr": key[2], "accuracy": done[key]}) + "\n")
    return done[key]


def main(seeds=(0,), grid_only=False):
    done = cached()
    for seed in seeds:
        for name, make in (("spirals", spirals), ("digits", digits)):
            task = make(seed)
            grid = {float(lr): accuracy(done, name, task, seed, lr) for lr in task[-1]}
            best = max(grid, key=grid.get)
            print(f"{name} seed {seed} grid:", ", ".join(f"{lr:.2g}: {acc:.2%}" for lr, acc in grid.items()),
                  flush=True)
            if grid_only:
                continue
            for num_iter in (100, 300):
                for rule, lr in suggestions(task, seed, num_iter).items():
                    acc = accuracy(done, name, task, seed, lr) if math.isfinite(lr) else 0.0
                    gap = 100 * (grid[best] - acc)
                    print(f"{name} seed {seed} num_iter {num_iter} {rule}: suggestion {lr:.3g} -> {acc:.2%}; "
                          f"best grid {best:.2g} -> {grid[best]:.2%}; gap {gap:.2f} points", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:] if a != "--grid"] or [0], grid_only="--grid" in sys.argv)
