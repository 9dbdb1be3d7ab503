"""Classify Iris flowers with a small MLP: the original MiniTorch demo.

Standardise the features, split 80/20 (stratified, seeded), train with mini-batch SGD for 200
epochs, save the model, load it back from the file alone (the file holds the architecture too) and
report the test accuracy.
Run: python examples/solve_iris.py [--seed 5] [--epochs 200] [--out iris_model.npz]
"""

from __future__ import annotations

import argparse

import numpy as np

import minitorch as mt


def build_model() -> mt.Sequential:
    return mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))


@mt.no_grad()  # evaluation: forward keeps no cache, so nothing waits for a backward
def accuracy(model: mt.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model(X), axis=1) == y))


def main(seed: int = 5, epochs: int = 200, out: str = "iris_model.npz") -> float:
    mt.manual_seed(seed)
    X, y = mt.datasets.load_iris()
    X_train, X_test, y_train, y_test = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)  # statistics of the training part only
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std

    model = build_model()
    loss_fn = mt.CrossEntropyLoss()
    optimizer = mt.SGD(model.parameters(), lr=0.1)
    loader = mt.DataLoader(X_train, y_train, batch_size=16, shuffle=True)
    losses = []  # mean loss of each epoch, for the plot at the end

    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            logits = model(xb)
            total += loss_fn(logits, yb) * len(xb)
            model.backward(loss_fn.backward())
            optimizer.step()
            optimizer.zero_grad()
        losses.append(total / len(X_train))
        if epoch % 20 == 0:
            print(f"Epoch {epoch}/{epochs}, Loss: {total / len(X_train):.4f}")

    mt.save_model(model, out)
    print(f"Model saved to {out}")
    loaded = mt.load_model(out).eval()  # no code needed: the file describes the network
    test_accuracy = accuracy(loaded, X_test, y_test)
    print(f"Test Accuracy (from loaded model): {test_accuracy:.2%}")
    save_plots(losses)
    return test_accuracy


def save_plots(losses: list[float]) -> None:
    """Draw the loss curve into outputs/ when matplotlib is installed ('minitorch-numpy[plot]')."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    path = mt.plot.loss_curves(losses, "outputs/iris_loss.png", title="Iris: mean training loss per epoch")
    print(f"Loss curve saved to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default="iris_model.npz")
    args = parser.parse_args()
    main(args.seed, args.epochs, args.out)
