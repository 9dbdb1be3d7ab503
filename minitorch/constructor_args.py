"""Constructor recording for model files: every Module subclass's ``__init__`` records its arguments.

``Module.__init_subclass__`` wraps each subclass's ``__init__`` with ``recording_init`` (once, when
the class is defined). The outermost constructor call stores its bound arguments, defaults applied,
in ``self._init_args`` (``Linear(4, 3)`` -> ``{"in_features": 4, "out_features": 3, "bias": True}``)
and, once it returns, the public names it made and what each is in ``self._init_attributes``
(``public_kinds``) and the shape and dtype of each Parameter and buffer in ``self._init_arrays``
(``array_kinds``). ``mt.save_model`` writes the arguments as the model's architecture and tells
the attributes added, deleted or changed in kind since, and the arrays replaced by ones of another
shape, from the constructor's, so a layer author does nothing to make a layer saveable. Cost: one
signature bind and one pass over the attribute names per construction, nothing on forward or backward.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

# Set (by ``minitorch.model_files`` while it rebuilds a model from a file) to a function that
# vets every module's constructor arguments before the constructor runs; None otherwise.
constructor_check: contextvars.ContextVar[Callable[[type, dict[str, Any]], None] | None] = (
    contextvars.ContextVar("constructor_check", default=None)
)


def recording_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap ``init`` so that the outermost constructor call records its arguments in ``_init_args``
    and the public names it made, with their kinds (``public_kinds``), in ``_init_attributes``, and
    its Parameters' and buffers' shapes and dtypes (``array_kinds``) in ``_init_arrays``."""
    signature: inspect.Signature | None = None

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal signature
        outermost = "_init_args" not in self.__dict__  # a subclass's super().__init__(...) is not recorded
        if outermost:
            signature = signature or inspect.signature(init)
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as error:  # named after the class called, never a private base's __init__
                _refuse_as_torch(type(self), kwargs)
                message = _bad_call_message(type(self).__name__, signature, kwargs, error)
                raise TypeError(message) from None
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            del arguments[next(iter(signature.parameters))]  # self
            check = constructor_check.get()
            if check is not None:
                check(type(self), arguments)
            object.__setattr__(self, "_init_args", arguments)
        init(self, *args, **kwargs)
        if outermost:
            object.__setattr__(self, "_init_attributes", public_kinds(self))
            object.__setattr__(self, "_init_arrays", array_kinds(self))

    return wrapper


def public_kinds(module: Any) -> dict[str, str]:
    """Name -> "parameter", "buffer", "child" or "plain" for each public attribute of ``module``
    but ``training`` (a registered name holding None, an empty slot, is of its registry's kind)."""
    d = module.__dict__
    registries = (("parameter", d["_parameters"]), ("buffer", d["_buffers"]), ("child", d["_modules"]))
    return {name: next((kind for kind, names in registries if name in names), "plain")
            for name in d if not name.startswith("_") and name != "training"}


def array_kinds(module: Any) -> dict[str, tuple[tuple[int, ...], str] | None]:
    """Name -> (shape, "floating" or the dtype's name) of each Parameter and buffer of ``module``
    itself (``array_kind``); None for an empty slot."""
    d = module.__dict__
    arrays = [*((name, None if p is None else p.data) for name, p in d["_parameters"].items()),
              *d["_buffers"].items()]
    return {name: None if array is None else array_kind(array) for name, array in arrays}


def array_kind(array: Any) -> tuple[tuple[int, ...], str]:
    """(shape, "floating" or the dtype's name) of ``array``: what a model file tells from the
    constructor's (floating dtypes are one kind: a model file casts between them)."""
    return array.shape, "floating" if array.dtype.kind == "f" else array.dtype.name


def forget_argument(module: Any, name: str, value: Any) -> None:
    """Drop argument ``name`` from ``module``'s recorded constructor arguments if it holds ``value``
    (the object the constructor was given). For PyTorch's factory keywords ``device`` and ``dtype``,
    which a model file must not replay: a saved model is rebuilt in its weights' dtype, which a
    ``to()`` may have changed since (``dtypes.factory_dtype``); files stay as they were before the
    keywords existed.
    """
    arguments = module.__dict__.get("_init_args")
    if arguments is not None and name in arguments and arguments[name] is value:
        del arguments[name]


def _refuse_as_torch(cls: type, kwargs: dict[str, Any]) -> None:
    """A ValueError for a keyword the class lacks where PyTorch raises ValueError for it, not TypeError
    (``cls._torch_value_error_keywords``: keyword -> the reason and the fix, e.g. GRU's proj_size)."""
    for name in kwargs:
        reason = getattr(cls, "_torch_value_error_keywords", {}).get(name)
        if reason is not None:
            raise ValueError(f"{cls.__name__}: {name} {reason}")


def _bad_call_message(
    cls: str, signature: inspect.Signature, kwargs: dict[str, Any], error: TypeError
) -> str:
    """A constructor call that does not fit the signature, said with the public class's name.

    An unknown keyword (often a PyTorch argument MiniTorch lacks) gets "<cls> does not support <kw>"
    and the arguments the class does take; any other misfit, Python's reason after "<cls>(): ".
    """
    params = list(signature.parameters.values())[1:]  # without self
    keywords = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        unknown = [name for name in kwargs if name not in keywords]
        if unknown:
            takes = [f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name for p in params
                     if p.kind is not p.POSITIONAL_ONLY]
            return (f"{cls} does not support {', '.join(unknown)} "
                    f"(MiniTorch's {cls} takes: {', '.join(takes) or 'no arguments'})")
    return f"{cls}(): {error}"
