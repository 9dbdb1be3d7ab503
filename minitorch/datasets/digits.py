"""The 8x8 handwritten digits (1,797 images, 10 classes), shipped as a small compressed array file.

The images are the UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0), in the copy scikit-learn distributes as ``load_digits``: 32x32 bitmaps
reduced to 8x8 by counting the set pixels in each 4x4 block, so every value is an integer 0..16.
``data/digits.npz`` stores them as uint8 ``images`` (1797, 8, 8) and ``target`` (1797,).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from minitorch.dtypes import get_default_dtype

DIGITS_CLASSES = tuple(range(10))


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return X (1797, 1, 8, 8) in the default dtype, scaled to [0, 1] (value / 16), and y (1797,) int64.

    X is NCHW with one channel, ready for ``Conv2d(1, ...)``; ``X.reshape(len(X), -1)`` gives the 64
    features for an MLP. Each class has 174 to 183 images.
    """
    with resources.files("minitorch.datasets").joinpath("data/digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            images, target = archive["images"], archive["target"]
    X = (images.astype(get_default_dtype()) / 16)[:, None, :, :]
    return X, target.astype(np.int64)
