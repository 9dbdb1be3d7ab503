"""Classify Iris flowers with mt.fit: validation data, metrics, early stopping, a summary and plots.

The network and data of solve_iris.py, trained by ``mt.fit`` instead of the explicit loop: the
training part is split again into train and validation, EarlyStopping watches the validation
loss and restores the best weights, and the test part is evaluated once at the end.
Run: python examples/fit_iris.py [--seed 5] [--epochs 300] [--verbose 1]   (0 silent, 2 plain lines)
"""

from __future__ import annotations

import argparse

import minitorch as mt


def main(seed: int = 5, epochs: int = 300, verbose: int = 1) -> float:
    mt.manual_seed(seed)
    X, y = mt.datasets.load_iris()
    X_train, X_test, y_train, y_test = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=seed)
    X_train, X_val, y_train, y_val = mt.train_test_split(
        X_train, y_train, test_size=0.25, stratify=True, seed=seed
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)  # statistics of the training part only
    X_train, X_val, X_test = (X_train - mean) / std, (X_val - mean) / std, (X_test - mean) / std

    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    print(mt.summary(model, input_shape=(4,)))
    loss_fn = mt.CrossEntropyLoss()
    optimizer = mt.SGD(model.parameters(), lr=0.1)
    loader = mt.DataLoader(X_train, y_train, batch_size=16, shuffle=True)
    stopper = mt.EarlyStopping(monitor="val_loss", patience=20)

    history = mt.fit(model, loss_fn, optimizer, loader, epochs, val_data=(X_val, y_val),
                     metrics=("accuracy", "f1"), callbacks=[stopper], verbose=verbose)
    print(f"Trained {len(history)} epochs; best val_loss {stopper.best:.4f} (epoch {stopper.best_epoch + 1})")

    test = mt.evaluate(model, loss_fn, X_test, y_test, metrics=("accuracy", "f1"))
    print(f"Test: loss {test['loss']:.4f}, accuracy {test['accuracy']:.2%}, macro F1 {test['f1']:.4f}")
    cm = mt.metrics.confusion_matrix(y_test, mt.predict(model, X_test))
    print(f"Confusion matrix (rows: true, columns: predicted {', '.join(mt.datasets.IRIS_CLASSES)}):\n{cm}")
    save_plots(history, cm)
    return test["accuracy"]


def save_plots(history: mt.History, cm) -> None:
    """Loss curves and the confusion matrix into outputs/, when matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("For plots: pip install 'minitorch-numpy[plot]'")
        return
    curves = mt.plot.loss_curves(history, "outputs/fit_iris_curves.png", title="Iris, trained with mt.fit")
    matrix = mt.plot.confusion_matrix(cm, "outputs/fit_iris_confusion.png", mt.datasets.IRIS_CLASSES)
    print(f"Plots saved to {curves} and {matrix}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args()
    main(args.seed, args.epochs, args.verbose)
