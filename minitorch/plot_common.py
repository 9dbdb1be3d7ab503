"""What every picture module shares: a matplotlib Figure (the optional extra, imported lazily) and
saving it to a path whose folder is created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike


def figure(**kwargs: Any) -> Any:
    """A constrained-layout matplotlib Figure, or an ImportError naming the extra to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "mt.plot needs matplotlib, an optional extra: pip install 'minitorch-numpy[plot]' "
            "(or pip install matplotlib)"
        ) from err
    return Figure(layout="constrained", **kwargs)


def save(fig: Any, path: PathLike) -> str:
    """Write ``fig`` to ``path`` (its folder created) and return the path as a string."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return os.fspath(path)
