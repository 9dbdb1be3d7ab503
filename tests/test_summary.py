"""mt.summary: layers with nested names, output shapes from a real forward pass, parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


def rows(table: str) -> list[list[str]]:
    """The body rows of a summary table, split on runs of 2+ spaces."""
    lines = table.splitlines()
    start = [i for i, line in enumerate(lines) if line.startswith("=")][1] + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("-"))
    return [[cell.strip() for cell in line.split("   ") if cell.strip()] for line in lines[start:end]]


def test_mlp_summary_lists_each_layer_with_shape_and_count():
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    result = mt.summary(model, (4,))
    table = str(result)
    assert rows(table) == [
        ["0 (Linear)", "(1, 16)", "80"],
        ["1 (ReLU)", "(1, 16)", "0"],
        ["2 (Linear)", "(1, 3)", "51"],
    ]
    assert table.splitlines()[0] == "Model: Sequential, input shape (1, 4)"
    assert table.endswith("Total params: 131\nTrainable params: 131\nNon-trainable params: 0")
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (131, 131, 0)
    assert repr(result) == table
    assert mt.summary(model, 4).rows == result.rows  # an int is a 1-D shape


class Block(mt.Module):
    """A user module holding a Sequential, a layer it never calls, and a weight of its own."""

    def __init__(self):
        super().__init__()
        self.body = mt.Sequential(mt.Linear(3, 5), mt.BatchNorm1d(5), mt.Dropout(0.5))
        self.unused = mt.Linear(5, 5)
        self.scale = mt.Parameter(np.ones(5, np.float32))

    def forward(self, x):
        return self.body(x) * self.scale.data

    def backward(self, dy):
        return self.body.backward(dy * self.scale.data)


def test_nested_modules_are_indented_and_buffers_count_as_non_trainable():
    model = mt.Sequential(Block(), mt.Linear(5, 2))
    result = mt.summary(model, (3,))
    norm_count = 10 + 5 + 5  # weight, bias, running mean and variance
    assert rows(str(result)) == [
        ["0 (Block)", "(1, 5)", "5"],
        ["0.body (Sequential)", "(1, 5)", "0"],
        ["0.body.0 (Linear)", "(1, 5)", "20"],
        ["0.body.1 (BatchNorm1d)", "(1, 5)", str(norm_count)],
        ["0.body.2 (Dropout)", "(1, 5)", "0"],
        ["0.unused (Linear)", "-", "30"],  # never called by forward
        ["1 (Linear)", "(1, 2)", "12"],
    ]
    assert "\n    0.body.0 (Linear)" in str(result)  # two levels deep: indented twice
    buffers = sum(b.size for _, b in model.named_buffers() if b.dtype.kind == "f")
    assert result.trainable_params == sum(p.size for p in model.parameters()) == 5 + 20 + 10 + 30 + 12
    assert result.non_trainable_params == buffers > 0


def test_summary_runs_in_eval_mode_restores_modes_and_removes_its_wrappers():
    model = mt.Sequential(Block(), mt.Linear(5, 2))
    model[0].body[2].eval()  # BatchNorm in training mode would fail on a batch of 1: eval is needed
    running_mean = model[0].body[1].running_mean.copy()
    mt.summary(model, (3,))
    assert [m.training for m in model.modules()] == [True, True, True, True, True, False, True, True]
    np.testing.assert_array_equal(model[0].body[1].running_mean, running_mean)  # eval: stats untouched
    assert all("forward" not in vars(m) for m in model.modules())
    with pytest.raises(ValueError, match=r"summary: Sequential failed on zeros of shape \(1, 4\)"):
        mt.summary(model, (4,))
    assert all("forward" not in vars(m) for m in model.modules())
    assert model.training


def test_single_layer_models_and_input_dtype():
    result = mt.summary(mt.Linear(2, 3), (2,))
    assert rows(str(result)) == [["Linear (Linear)", "(1, 3)", "9"]]
    mt.set_default_dtype(np.float64)
    model = mt.Linear(2, 3)
    mt.set_default_dtype(np.float32)
    assert mt.summary(model, 2, dtype=np.int64).total_params == 9
    with pytest.raises(ValueError, match="without the batch dimension"):
        mt.summary(model, (0, 2))
    with pytest.raises(TypeError, match=r"mt\.Module"):
        mt.summary("model", (2,))


def test_summary_passes_keyword_arguments_and_shows_absent_outputs():
    # the encoder layer calls its attention with keywords (need_weights=False...); summary must pass them
    model = mt.TransformerEncoder(mt.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2)
    report = mt.summary(model, input_shape=(5, 16))
    text = str(report)
    assert "layers.1.self_attn (MultiheadAttention)" in text
    assert "[(1, 5, 16), -]" in text  # the weights, not computed (need_weights=False)


def test_batch_norm_counts_as_keras_counts_it_without_the_step_counter():
    """Keras' BatchNormalization(8): 16 trainable, 16 non-trainable (moving mean and variance).

    num_batches_tracked is a step counter, not a parameter: counting it gave 17 (the class of bug: a
    buffer that is bookkeeping counted as weights).
    """
    result = mt.summary(mt.Sequential(mt.Linear(4, 8), mt.BatchNorm1d(8)), (4,))
    assert (result.trainable_params, result.non_trainable_params) == (40 + 16, 16)
    assert rows(str(result))[1] == ["1 (BatchNorm1d)", "(1, 8)", "32"]


@pytest.mark.parametrize("keyword", ["input_shape", "input_size"])
def test_a_packed_sequence_instead_of_a_shape_names_what_summary_takes(keyword):
    """A PackedSequence (an example, and a tuple) is not read as a shape of arrays: the error
    says summary takes a shape and which one to give an RNN."""
    model = mt.LSTM(3, 5)
    packed = mt.rnn_utils.pack_sequence([np.zeros((4, 3)), np.zeros((2, 3))])
    message = (rf"^summary: {keyword} is a shape \(a tuple of ints\), not an example input; got a "
               r"PackedSequence\. .*input_size=\(seq_len, 1, features\)")
    with pytest.raises(TypeError, match=message):
        mt.summary(model, **{keyword: packed})
    assert mt.summary(model, input_size=(4, 1, 3)).rows[0].output_shape[0] == (4, 1, 5)  # (the way shown)


def _shapes(output):
    """An output's shapes as summary shows them (a list for a tuple), computed here independently."""
    if isinstance(output, tuple):
        return [_shapes(item) for item in output]
    return np.shape(output)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_a_recurrent_layer_gets_its_batch_of_1_on_its_own_batch_axis(cls, batch_first):
    """input_shape (seq_len, features) = (7, 3): the batch of 1 goes where the layer reads its batch,
    (7, 1, 3) for batch_first=False, (1, 7, 3) for True; each shape shown is what the layer returns."""
    model = getattr(mt, cls)(3, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = np.zeros((1, 7, 3) if batch_first else (7, 1, 3), np.float32)
    result = mt.summary(model, (7, 3))
    assert result.input_shape == x.shape
    assert str(result).splitlines()[0] == f"Model: {cls}, input shape {x.shape}"
    assert result.rows[0].output_shape == _shapes(model(x))
    assert result.rows[0].output_shape[0] == ((1, 7, 10) if batch_first else (7, 1, 10))
    # input_size is the whole shape, as given
    size = (7, 2, 3) if not batch_first else (2, 7, 3)
    shown = mt.summary(model, input_size=size).rows[0].output_shape
    assert shown == _shapes(model(np.zeros(size, np.float32)))


def test_an_input_shape_with_the_batch_on_a_sequence_first_axis_names_the_fix():
    model = mt.LSTM(3, 5)
    with pytest.raises(ValueError, match=r"input_shape=\(7, 1, 3\) seems to include the batch dimension .* "
                                         r"pass \(7, 3\), or torchinfo's input_size=\(7, 1, 3\)"):
        mt.summary(model, (7, 1, 3))


@pytest.mark.parametrize("batch_first", [False, True])
def test_a_transformer_encoder_gets_its_batch_of_1_where_its_attention_reads_it(batch_first):
    layer = mt.TransformerEncoderLayer(16, 2, 32, batch_first=batch_first)
    x = np.zeros((1, 5, 16) if batch_first else (5, 1, 16), np.float32)
    for model, prefix in ((layer, ""), (mt.TransformerEncoder(layer, 2), "layers.1.")):
        model.eval()
        result = mt.summary(model, (5, 16))
        assert result.input_shape == x.shape
        shown = {row.name: row.output_shape for row in result.rows}
        assert shown[f"{prefix}self_attn"] == [x.shape, None]
        assert shown[f"{prefix}norm2"] == _shapes(model(x)) == x.shape  # (post-norm: the layer's output)
