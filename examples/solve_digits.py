"""Read handwritten digits with a small convolutional network trained by plain SGD.

The 8x8 digits (1,797 images, shipped with MiniTorch) are split 80/20, stratified and seeded. Two
conv blocks (Conv2d 3x3 -> ReLU -> MaxPool2d 2) turn each 1x8x8 image into 32x2x2 features, a
Linear head maps them to 10 logits. Plain SGD, mini-batches of 16, lr 0.1 dropped to 0.01
(MultiStepLR) for the last quarter of the epochs. Prints loss and accuracy per epoch, then the
test accuracy.
Run: python examples/solve_digits.py [--seed 0] [--epochs 20] [--lr 0.1] [--batch-size 16]
"""

from __future__ import annotations

import os

# The matrices here are tiny (a batch of 16 images of 8x8): handing them to several BLAS threads
# costs more than it saves, up to 20x more on a busy 2-core machine. One thread, unless the
# environment says otherwise; this must happen before NumPy is first imported.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import minitorch as mt  # noqa: E402


def build_model() -> mt.Sequential:
    return mt.Sequential(
        mt.Conv2d(1, 16, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),   # (N, 16, 4, 4)
        mt.Conv2d(16, 32, kernel_size=3, padding=1), mt.ReLU(), mt.MaxPool2d(2),  # (N, 32, 2, 2)
        mt.Flatten(), mt.Linear(32 * 2 * 2, 10),
    )


@mt.no_grad()  # evaluation: forward keeps no cache, so nothing waits for a backward
def accuracy(model: mt.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model(X), axis=1) == y))


def main(seed: int = 0, epochs: int = 20, lr: float = 0.1, batch_size: int = 16) -> float:
    start = time.perf_counter()
    mt.manual_seed(seed)
    X, y = mt.datasets.load_digits()  # (1797, 1, 8, 8) in [0, 1]
    X_train, X_test, y_train, y_test = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)

    model = build_model()
    loss_fn = mt.CrossEntropyLoss()
    optimizer = mt.SGD(model.parameters(), lr=lr)
    # the last quarter of the epochs at lr/10 settles into a minimum
    scheduler = mt.lr_scheduler.MultiStepLR(optimizer, milestones=[int(0.75 * epochs)], gamma=0.1)
    loader = mt.DataLoader(X_train, y_train, batch_size=batch_size, shuffle=True)

    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for xb, yb in loader:
            total += loss_fn(model(xb), yb) * len(xb)
            model.backward_params(loss_fn.backward())  # the images need no gradient
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
        model.eval()
        train_acc, test_acc = accuracy(model, X_train, y_train), accuracy(model, X_test, y_test)
        print(
            f"Epoch {epoch:2d}/{epochs}, Loss: {total / len(X_train):.4f}, "
            f"Train acc: {train_acc:.2%}, Test acc: {test_acc:.2%}"
        )
    test_accuracy = accuracy(model, X_test, y_test)
    print(f"Test Accuracy: {test_accuracy:.2%} ({len(X_test)} images), {time.perf_counter() - start:.1f} s")
    return test_accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    main(args.seed, args.epochs, args.lr, args.batch_size)
