"""Weight tying (module.py's ``owned``, Linear.weight's setter): the cases a mutation run of the
tying code found no test for."""

from __future__ import annotations

import numpy as np

import minitorch as mt


def test_a_parameter_its_module_no_longer_holds_is_copied_into_linear_weight() -> None:
    """Only a Parameter some live module holds NOW is a tie to refuse: one its Embedding replaced
    (the Embedding still alive) belongs to no module, so ``lin.weight = p`` takes its values (torch's
    ``lin.weight = p`` registers p; no other module trains it)."""
    emb = mt.Embedding(5, 3)
    old = emb.weight
    emb.weight = mt.Parameter(np.zeros((5, 3), np.float32))
    lin = mt.Linear(3, 5, bias=False)
    lin.weight = old
    np.testing.assert_array_equal(lin.weight.data, old.data)
    assert emb.weight is not old


def test_a_parameter_whose_module_was_collected_is_copied_into_linear_weight() -> None:
    """The table of owners may still hold a dead reference to a collected module: a Parameter whose
    only owner is gone is owned by no module, so ``lin.weight = p`` takes its values."""
    import gc

    emb = mt.Embedding(5, 3)
    p = emb.weight
    del emb
    gc.collect()
    lin = mt.Linear(3, 5, bias=False)
    lin.weight = p
    np.testing.assert_array_equal(lin.weight.data, p.data)
