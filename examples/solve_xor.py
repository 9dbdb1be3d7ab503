"""Learn XOR, the function a single linear layer cannot represent, with a two-layer MLP.

Run: python examples/solve_xor.py [--seed 0] [--epochs 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

import minitorch as mt

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def main(seed: int = 0, epochs: int = 2000) -> int:
    mt.manual_seed(seed)
    model = mt.Sequential(mt.Linear(2, 8), mt.Sigmoid(), mt.Linear(8, 1), mt.Sigmoid())
    loss_fn = mt.MSELoss()
    optimizer = mt.SGD(model.parameters(), lr=2.0)

    for epoch in range(1, epochs + 1):
        loss = loss_fn(model(X), Y)  # the whole truth table is one batch
        model.backward(loss_fn.backward())
        optimizer.step()
        optimizer.zero_grad()
        if epoch % 500 == 0:
            print(f"Epoch {epoch}/{epochs}, Loss: {loss:.6f}")

    with mt.no_grad():
        outputs = model(X)
    correct = 0
    for x, out, target in zip(X, outputs[:, 0], Y[:, 0], strict=True):
        prediction = int(out > 0.5)
        correct += prediction == int(target)
        print(f"{int(x[0])} XOR {int(x[1])} = {prediction}  (output {out:.3f}, expected {int(target)})")
    print(f"Correct: {correct}/4")
    save_plots(model)
    return correct


def save_plots(model: mt.Module) -> None:
    """Draw the learned decision boundary into outputs/ when matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    path = mt.plot.decision_boundary(model, X, Y, "outputs/xor_decision_boundary.png", title="XOR")
    print(f"Decision boundary saved to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args()
    main(args.seed, args.epochs)
