"""Mutation survivors of the model-file changes (ties, budget, format), each killed by a test here."""

from __future__ import annotations

import os
import re

import pytest
from model_helpers import read_header, weights, write_with_header

import minitorch as mt


def _saved(model: mt.Module, tmp_path):
    path = tmp_path / "m.npz"
    mt.save_model(model, path)
    return path


@pytest.mark.parametrize("name", [["0.W"], {"0": "W"}, None, 3])
@pytest.mark.parametrize("slot", [0, 1])
def test_a_tie_naming_no_string_is_a_model_file_error(tmp_path, name, slot):
    # an unhashable name (a list, a dict) asked of the Parameters' dict raised TypeError: unhashable
    path = _saved(mt.Sequential(mt.Linear(2, 2), mt.Linear(2, 2)), tmp_path)
    header = read_header(path)
    pair = ["1.W", "0.W"]
    pair[slot] = name
    header["model"]["ties"] = [pair]
    write_with_header(tmp_path / "bad.npz", header, weights(path))
    with pytest.raises(mt.ModelFileError, match=r"model\.ties: expected"):
        mt.load_model(tmp_path / "bad.npz")


def test_a_tie_to_a_name_tied_before_joins_that_parameter(tmp_path):
    # the Parameters' names are brought up to date after each tie: a later pair naming an earlier
    # alias as its original shares the one Parameter (it got the alias's replaced, orphaned Parameter)
    model = mt.Sequential(mt.Linear(2, 2), mt.Linear(2, 2), mt.Linear(2, 2))
    model[1].W = model[0].W
    model[2].W = model[0].W
    path = _saved(model, tmp_path)
    header = read_header(path)
    assert header["model"]["ties"] == [["1.W", "0.W"], ["2.W", "0.W"]]
    header["model"]["ties"] = [["1.W", "0.W"], ["2.W", "1.W"]]  # a chain: the same three-way tie
    write_with_header(tmp_path / "chain.npz", header, weights(path))
    loaded = mt.load_model(tmp_path / "chain.npz")
    assert loaded[0].W is loaded[1].W is loaded[2].W
    assert len(list(loaded.parameters())) == 4  # the shared W and three biases


@pytest.mark.parametrize("make", ["folder", "fifo"])
def test_a_save_refused_through_a_symlink_names_the_path_given(tmp_path, make):
    # the message names the link the caller gave, not the folder or FIFO it resolves to
    pointed = tmp_path / "run" / "x"
    pointed.parent.mkdir()
    if make == "folder":
        pointed.mkdir()
    elif hasattr(os, "mkfifo"):
        os.mkfifo(pointed)
    else:
        pytest.skip("no FIFOs here")
    link = tmp_path / "latest.npz"
    link.symlink_to(pointed)
    with pytest.raises(OSError, match=f"^cannot save to {re.escape(repr(str(link)))}: it is "):
        mt.save_model(mt.Linear(2, 2), link)


@pytest.mark.parametrize("item", [5, 2.5, None, True])
def test_a_module_dict_member_of_no_pair_is_a_model_file_error(tmp_path, item):
    # a member that is no list is skipped when the members are named (len() of it was a TypeError)
    path = _saved(mt.ModuleDict({"a": mt.Linear(2, 2)}), tmp_path)
    header = read_header(path)
    header["model"]["architecture"]["args"]["modules"]["__dict__"].append(item)
    write_with_header(tmp_path / "bad.npz", header, weights(path))
    with pytest.raises(mt.ModelFileError):
        mt.load_model(tmp_path / "bad.npz")
