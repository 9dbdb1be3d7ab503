"""``ModuleList`` and ``ModuleDict``: modules held by index or key, registered, not called."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from minitorch.containers import editing
from minitorch.module import Module


class ModuleList(Module):
    """A list of Modules registered as children "0", "1", ..., as torch.nn.ModuleList.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members. A parent whose forward chains them gets its backward.
    Edited as ``torch.nn.ModuleList``, the names always "0", "1", ... in order:
        layers[i], layers[a:b]    a member; a new ModuleList of the slice
        layers[i] = m             replaces member i
        del layers[i], del layers[a:b], layers.pop(i)   removes; the rest renamed
        layers.append(m), layers.extend(ms), layers += ms   add at the end
        layers.insert(i, m)       before member i (as list.insert: negative from the end, clamped)
        layers + ms               a new ModuleList of the same module objects
    An edit while a member has a forward call waiting for its backward drops the waiting calls:
    the parent's backward then raises RuntimeError naming the edit, before any member runs; run
    forward again after editing. extend([]), += [], an empty del and layers[i] = layers[i] change
    nothing and keep them. Deviations from torch, as errors: ``layers[i] = None`` (torch leaves an
    empty slot) raises TypeError; ``extend`` checks every item first and adds none if one is not a
    Module (torch has added the items before it).
    Example:
        self.layers = ModuleList([Linear(8, 8) for _ in range(3)])
        for layer in self.layers: x = layer(x)
    """

    _is_container = True
    _child_slots = False

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._extend(modules, "ModuleList(...)", edit=False)

    def append(self, module: Module) -> ModuleList:
        return self._extend([module], "ModuleList.append")

    def _record_members(self) -> None:
        """Model files rebuild a ModuleList from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": tuple(self._modules.values())})

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        return self._extend(modules, "ModuleList.extend")

    def _extend(self, modules: Iterable[Module], who: str, edit: bool = True) -> ModuleList:
        modules = editing.modules_of(modules, who)
        if edit and modules:  # (no member added: the chain is as it ran)
            editing.drop_waiting_calls(self, modules, who)
        for module in modules:
            setattr(self, str(len(self._modules)), module)
        self._record_members()
        return self

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self._extend(modules, "ModuleList +=")

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *editing.modules_of(other, "ModuleList + other")])

    def insert(self, index: int, module: Module) -> None:
        who = f"ModuleList.insert({index!r}, ...)"
        (module,) = editing.modules_of([module], who)
        members = list(self)
        members.insert(editing.as_int(index, who), module)
        editing.drop_waiting_calls(self, [module], who)
        editing.rename(self, members)
        self._record_members()

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[editing.position(index, len(modules), f"ModuleList[{index!r}]", True)]

    def __setitem__(self, index: int, module: Module) -> None:
        who = f"ModuleList[{index!r}] = ..."
        name = list(self._modules)[editing.position(index, len(self), who)]
        (module,) = editing.modules_of([module], who)
        if editing.unchanged(self, name, module):
            return
        editing.drop_waiting_calls(self, [module], who)
        setattr(self, name, module)
        self._record_members()

    def __delitem__(self, index: int | slice) -> None:
        who = f"del ModuleList[{index!r}]"
        kept = editing.kept_after_delete(list(self), index, who)
        if len(kept) < len(self):  # (an empty slice removes nothing)
            editing.drop_waiting_calls(self, [], who)
        editing.rename(self, kept)
        self._record_members()

    def pop(self, index: int | slice) -> Module | ModuleList:
        """Remove member ``index`` (or a slice of them: a ModuleList) and return it."""
        popped = self[index]
        del self[index]
        return popped

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleList holds modules and is not called: call its members (for m in self.layers: x = m(x))"
        )


class ModuleDict(Module):
    """A dict of Modules registered under their keys, in insertion order, as torch.nn.ModuleDict.

    It holds modules and is not called itself: train()/eval(), to(), state_dict() and
    parameters() reach its members ("heads.cls.W"). Edited as ``torch.nn.ModuleDict``:
        heads[k] = m, del heads[k], heads.pop(k), heads.clear(), heads.update(pairs)
    An edit while a member has a forward call waiting for its backward drops the waiting calls
    (the parent's backward then raises naming the edit); heads[k] = heads[k] changes nothing.
    ``heads[k] = None`` raises TypeError (torch stores None); ``update`` checks every item first
    and adds none if one is bad (torch has added those before it).
    Example:
        self.heads = ModuleDict({"cls": Linear(8, 3), "box": Linear(8, 4)})
        logits = self.heads["cls"](h)
    """

    _is_container = True
    _child_slots = False

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            for key, module in self._checked(modules):
                self._set(key, module, edit=False)  # (a constructor edits nothing)

    def __setitem__(self, key: str, module: Module) -> None:
        self._set(key, module)

    def _check(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key or key.startswith("_"):
            raise KeyError(f"ModuleDict: keys are non-empty strings without '.' or leading '_', got {key!r}")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} is an attribute of ModuleDict")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected Module instances, got {type(module).__name__}")

    def _checked(self, modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> list[tuple[str, Module]]:
        """Every (key, module) pair, each checked before any is added."""
        pairs = list(_pairs(modules))
        for key, module in pairs:
            self._check(key, module)
        return pairs

    def _set(self, key: str, module: Module, edit: bool = True) -> None:
        self._check(key, module)
        if editing.unchanged(self, key, module):
            return
        if edit:
            editing.drop_waiting_calls(self, [module], f"ModuleDict[{key!r}] = ...")
        setattr(self, key, module)
        self._record_members()

    def _record_members(self) -> None:
        """Model files rebuild a ModuleDict from its current members, not its constructor call."""
        object.__setattr__(self, "_init_args", {"modules": dict(self._modules)})

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict[{key!r}]: expected one of its keys {list(self._modules)}") from None

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:  # (never another attribute: del heads["training"])
            raise KeyError(f"del ModuleDict[{key!r}]: expected one of its keys {list(self._modules)}")
        editing.drop_waiting_calls(self, [], f"del ModuleDict[{key!r}]")
        delattr(self, key)
        self._record_members()

    def pop(self, key: str) -> Module:
        """Remove member ``key`` and return it (KeyError if there is none)."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every member."""
        for key in list(self._modules):
            del self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> None:
        for key, module in self._checked(modules):
            self[key] = module

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleDict holds modules and is not called: call its members (self.heads['cls'](h))"
        )


def _pairs(modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> Iterable[tuple[str, Module]]:
    """(key, module) pairs of a mapping (a dict, another ModuleDict, as torch) or an iterable of pairs."""
    if isinstance(modules, (Mapping, ModuleDict)):
        return list(modules.items())
    return modules
