"""The fast room: accelerated versions of plain formulas, each with the plain function's signature.

    use_kernels(False)     # the plain formulas everywhere (also: MINITORCH_KERNELS=0 at import)
    kernels_enabled()      # True by default

Each fast function lives in ``minitorch/kernels/<family>.py``, names the plain function it replaces and
what it saves, and is tested equal to it.
"""

from __future__ import annotations

import os

_enabled = os.environ.get("MINITORCH_KERNELS", "1").strip() not in ("0", "false", "False", "no", "off")


def use_kernels(enabled: bool = True) -> None:
    """Turn the fast kernels on (the default) or off (the plain formulas everywhere)."""
    global _enabled
    _enabled = bool(enabled)


def kernels_enabled() -> bool:
    """Whether the plain code hands its work to the fast kernels."""
    return _enabled
