"""An unsupported PyTorch keyword names the public class (issue 15), never a private base class's __init__."""

from __future__ import annotations

import inspect

import pytest

import minitorch as mt


def _exported_modules() -> list[type]:
    names = set(mt.__all__) | set(mt.layers.__all__) | set(mt.losses.__all__)
    classes = {getattr(mt.layers, n, None) or getattr(mt.losses, n, None) or getattr(mt, n) for n in names}
    modules = (c for c in classes if inspect.isclass(c) and issubclass(c, mt.Module) and c is not mt.Module)
    return sorted(modules, key=lambda c: c.__name__)


MODULES = _exported_modules()


def test_the_walk_sees_the_layers_and_losses():
    names = {c.__name__ for c in MODULES}
    assert {"Linear", "Conv2d", "ReLU", "Sequential", "BCEWithLogitsLoss", "MSELoss", "KLDivLoss"} <= names


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_unknown_keyword_names_the_public_class(cls):
    with pytest.raises(TypeError) as info:
        cls(not_a_torch_option=1)
    message = str(info.value)
    name = cls.__name__
    assert message.startswith(f"{name} does not support not_a_torch_option (MiniTorch's {name} takes: ")
    assert "__init__" not in message and "Loss.__init__" not in message


def test_a_torch_only_keyword_of_an_elementwise_loss():
    expected = r"^BCELoss does not support size_average, reduce \(MiniTorch's BCELoss takes: reduction, "
    with pytest.raises(TypeError, match=expected):
        mt.BCELoss(size_average=True, reduce=False)
    with pytest.raises(TypeError, match=r"^Sequential does not support foo \(MiniTorch's Sequential takes"):
        mt.Sequential(foo=1)


def test_other_bad_calls_name_the_class_too():
    with pytest.raises(TypeError, match=r"^Linear\(\): missing a required argument: 'out_features'$"):
        mt.Linear(3)
    with pytest.raises(TypeError, match=r"^MSELoss\(\): too many positional arguments$"):
        mt.MSELoss("mean", 2)
