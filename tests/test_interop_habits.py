"""from_torch names what MiniTorch lacks the right way round and refuses half precision (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def test_a_torch_layer_minitorch_lacks_has_no_minitorch_counterpart():
    with pytest.raises(TypeError, match=r"module\.0 is a RReLU, which has no MiniTorch counterpart"):
        mt.interop.from_torch(torch.nn.Sequential(torch.nn.RReLU()))

    class Mine(mt.Module):
        pass

    with pytest.raises(TypeError, match=r"model is a Mine, which has no PyTorch counterpart"):
        mt.interop.to_torch(Mine())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_are_refused_not_cast(dtype):
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()).to(dtype)
    with pytest.raises(TypeError, match=rf"module\.0 \(Linear\) holds weight as {dtype}.*\.float\(\)"):
        mt.interop.from_torch(t)
    model = mt.interop.from_torch(t.float())
    assert model[0].W.dtype == "float32"


def test_new_layers_come_over_from_a_torch_built_model():
    t = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, padding="same"), torch.nn.GroupNorm(2, 4),
                            torch.nn.SiLU(), torch.nn.Unflatten(2, (2, 3)),
                            torch.nn.Upsample(scale_factor=2.0, mode="bilinear"),
                            torch.nn.ConvTranspose2d(4, 2, 2, stride=2), torch.nn.AdaptiveMaxPool2d(3),
                            torch.nn.Flatten(), torch.nn.Linear(18, 3), torch.nn.PReLU(), torch.nn.Mish())
    model = mt.interop.from_torch(t.eval())
    x = torch.randn(2, 2, 6)
    with torch.no_grad():
        expected = t(x).numpy()
    np.testing.assert_allclose(model(x.numpy()), expected, rtol=1e-5, atol=1e-6)
