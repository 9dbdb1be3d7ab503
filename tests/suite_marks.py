"""Marks that keep the default run (``make test``) short; CI runs the slow tests too (``make test-slow``)."""

import pytest

#: The ``kernels`` fixture (conftest.py) for a test too slow to run twice by default: its kernels
#: variant runs in ``make test`` and ``make test-plain`` alike (the fixture sets the switch itself),
#: its plain variant with the slow tests.
KERNELS_THEN_PLAIN_SLOW = pytest.mark.parametrize(
    "kernels", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["kernels", "plain"], indirect=True)
