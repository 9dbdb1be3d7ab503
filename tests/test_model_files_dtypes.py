"""A Module whose constructor records a dtype as a type object (``dtype=np.float64``) saves and loads.

PyTorch and NumPy users pass dtypes as objects: ``np.float64``, ``np.dtype("float32")``,
``torch.float64``. Model files (no pickle) store one by its name and read it back as NumPy's scalar
type (``np.float64``), for numeric dtypes only; a forged name is refused without NumPy resolving it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from model_helpers import read_header, weights, write_with_header

import minitorch as mt


def _net_class():
    class DtypeNet(mt.Module):
        def __init__(self, hidden: int, dtype=None, index_dtype=np.int64) -> None:
            super().__init__()
            self.fc = mt.Linear(3, hidden, dtype=dtype)
            self.act = mt.Tanh()
            self.kind = dtype  # a public attribute holding the dtype too
            self.index_dtype = index_dtype

        def forward(self, x):
            return self.act(self.fc(x))

    return mt.register_module(DtypeNet)


DTYPES = [np.float64, np.float32, np.dtype("float64"), np.dtype("float32"), torch.float64, torch.float32]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_a_dtype_object_among_constructor_arguments_saves_and_loads(tmp_path, restore_registry, dtype):
    cls = _net_class()
    model = cls(4, dtype=dtype, index_dtype=np.int32)
    named = mt.dtypes.float_dtype(dtype, "test")
    assert model.fc.W.dtype == named
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert type(loaded) is cls and loaded.fc.W.dtype == named
    assert loaded._init_args["dtype"] is named.type and loaded.kind is named.type  # NumPy's scalar type
    assert loaded._init_args["index_dtype"] is np.int32 and loaded.index_dtype is np.int32
    if not isinstance(dtype, torch.dtype):
        assert loaded._init_args["dtype"] == dtype
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(named)
    np.testing.assert_array_equal(loaded(x), model(x))
    header = read_header(tmp_path / "m.npz")
    assert {"__dtype__": named.name} in header["model"]["architecture"]["args"].values()


def test_a_checkpoint_and_its_metadata_keep_dtypes(tmp_path, restore_registry):
    cls = _net_class()
    model = cls(2, dtype=np.float64)
    mt.save_checkpoint(tmp_path / "c.npz", model=model, compute=torch.float32, table={"x": np.dtype("int8")})
    loaded = mt.load_checkpoint(tmp_path / "c.npz")
    assert loaded["compute"] is np.float32 and loaded["table"] == {"x": np.int8}


@pytest.mark.parametrize("forged", ["object", "O", "str", "numpy.float64", "float128", "datetime64",
                                    "V8", "<f8", "", 7, None, ["float64"]])
def test_a_forged_dtype_name_is_refused_without_resolving_it(tmp_path, restore_registry, forged):
    cls = _net_class()
    mt.save_model(cls(2, dtype=np.float64), tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    header["model"]["architecture"]["args"]["dtype"] = {"__dtype__": forged}
    write_with_header(tmp_path / "forged.npz", header, weights(tmp_path / "m.npz"))
    with pytest.raises(mt.ModelFileError, match="expected a dtype name among"):
        mt.load_model(tmp_path / "forged.npz")


@pytest.mark.parametrize("value", [torch.bfloat16, np.dtype("complex64"), np.str_, np.dtype("O"), str, float])
def test_other_types_are_still_refused_when_saved(tmp_path, restore_registry, value):
    cls = _net_class()
    model = cls(2)
    model._init_args["dtype"] = value
    with pytest.raises(TypeError, match=r"argument 'dtype'.*numeric dtype \(np.float32, torch.float64\)"):
        mt.save_model(model, tmp_path / "m.npz")


def test_the_header_stays_plain_json(tmp_path, restore_registry):
    cls = _net_class()
    mt.save_model(cls(2, dtype=torch.float64), tmp_path / "m.npz")
    json.dumps(read_header(tmp_path / "m.npz"))
