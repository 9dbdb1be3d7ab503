"""The marks an edit leaves while forward calls wait, and the backward's refusal they cause.

An edit of a container (``minitorch/containers/editing.py``) while a forward call waits for its
backward drops the waiting calls of the container's children and marks what it changed:
- an edited Sequential keeps the edit in ``_edited`` until its next forward under grad mode;
- a module whose waiting calls were dropped shows a ``Dropped`` frame as ``_shown`` (an empty frame
  naming the edit: hiding it hides nothing) until its next forward under grad mode, which replaces
  it (``minitorch.call_frames``; a forward under no_grad, a failed one and a probe's keep it).
Every marked module is in ``marked``; while that set is not empty, the outermost backward-family
call of a module with children first looks for a mark below it (``edit_to_refuse``), so a
parent, or a second container holding a module the edit touched, refuses before any child adds a
gradient of a dropped call. A copy (``copy.deepcopy``) of a module carries no mark: it starts with
no call waiting (``Module.__getstate__``), so its backward refuses as any module's without a
forward. A refusal drops every waiting call below the refusing module and serves the marks there
for it and every module below it (``_served_at``): a marked module that later forwards leave
uncalled (an unused head) makes a parent refuse once, not at every backward.
Not covered: a module shared by containers a and b, both waiting; an edit of a; b's forward again;
two backwards of b: the second consumes the first call's frames down to the shared module, which
raises then (its mark went with b's new forward), after b's later children added gradients.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any


class Dropped(dict):
    """The ``_shown`` of a module whose waiting calls an edit dropped, until its next forward under
    grad mode: an empty frame (no cache to hide) that names the edit for the backward refusing,
    and the mark's ``generation``."""

    def __init__(self, edit: str, generation: int) -> None:
        super().__init__()
        self.edit, self.generation = edit, generation


# The modules an edit marked (an edited Sequential, a module whose calls were dropped): empty in
# every ordinary step, so backward looks for a mark only when there is one somewhere.
marked: weakref.WeakSet[Any] = weakref.WeakSet()
_marked_refs = marked.data  # its set of weak references (never rebound): a truth test without a call
# Bumped by every mark: a module found with no mark below it stays so until the next one (a mark
# goes only with a forward), so each parent looks once per mark, not at every backward. A parent
# that refused keeps the generation then (``_served_at``): the marks up to it are served (the
# refusal dropped every call below it), so a marked module its next forwards leave uncalled (an
# unused head) does not make every later backward refuse.
_generation = [0]


def mark(module: Any) -> int:
    """``module`` carries an edit's mark (``_edited``, or a ``Dropped`` frame shown); the new
    generation, the mark's own."""
    marked.add(module)
    _generation[0] += 1
    return _generation[0]


def mark_dropped(module: Any, edit: str) -> None:
    """After ``discard_all``: ``module``'s waiting calls were dropped by ``edit``."""
    module.__dict__["_shown"] = Dropped(edit, _generation[0] + 1)
    mark(module)


def edit_of(module: Any, served: int = -1) -> str | None:
    """Why a backward of (or through) ``module`` must refuse now, or None: an edit is pending,
    marked after generation ``served``."""
    return _edited(module, served) or _dropped(module, served)


def _edited(module: Any, served: int) -> str | None:
    d = module.__dict__
    edited = d.get("_edited")  # a Sequential edited while a call waited
    if edited is not None and d.get("_edited_at", 0) > served:
        return (f"the {type(module).__name__} was edited ({edited}) while a forward call was waiting for "
                "its backward")
    return None


def _dropped(module: Any, served: int) -> str | None:
    d = module.__dict__
    shown = d.get("_shown")
    if type(shown) is Dropped and not d["_stack"] and shown.generation > served:
        name = type(module).__name__
        return (f"an edit ({shown.edit}) of a container holding a {name} dropped the {name}'s waiting "
                "forward calls (a module held by two containers loses both containers' calls)")
    return None


def saved_marks(modules: Any) -> list[tuple[Any, str, Any]]:
    """The edits' marks of ``modules`` (``_edited``, a ``Dropped`` frame shown), for a forward that
    answers no waiting call (a converter's, a probe's) to put back with ``restore_marks``."""
    saved = []
    for m in modules:
        d = m.__dict__
        if d.get("_edited") is not None:
            saved.append((m, "_edited", d["_edited"]))
        if type(d.get("_shown")) is Dropped:
            saved.append((m, "_shown", d["_shown"]))
    return saved


def restore_marks(saved: list[tuple[Any, str, Any]]) -> None:
    """Put back the marks ``saved_marks`` saved (after the probe's own frames are dropped), marked
    anew: a backward during the probe may have found the modules clean."""
    for m, key, value in saved:
        d = m.__dict__
        if key == "_shown" and d["_shown"] is not None:
            for name in d["_shown"]:  # (call_frames._hide)
                d[name] = None
        d[key] = value
        mark(m)  # (the mark keeps its generation: served where it was)


def edit_to_refuse(module: Any) -> str | None:
    """The edit that marked a module under ``module`` (for a recording parent: one its waiting call
    called, or under it), or None: that call's chain lost calls, so no gradient of it may be
    accumulated. On an edit, ``module`` and every module below it are served (their marks up to
    now refuse no other backward of theirs); the caller drops ``module``'s waiting calls and raises
    (``call_frames.refuse_after_edit``)."""
    d = module.__dict__
    stack = d["_stack"]
    called = [m for m, *_ in stack[-1]["_calls"]] if stack and "_calls" in stack[-1] else None
    key = (_generation[0], None if called is None else tuple(map(id, called)))
    if d.get("_clean_at") == key:  # (a recording parent: clean for the same children called)
        return None
    if called is not None:  # a recording parent: what the waiting call called (members removed
        # since included; a member it left uncalled, an unused head, cannot concern it)
        below = list(itertools.chain((module,), *(m.modules() for m in called)))
    else:
        below = list(module.modules())
    served = d.get("_served_at", -1)
    edit = (next((e for m in below if (e := _edited(m, served)) is not None), None)  # the edit itself
            or next((e for m in below if (e := _dropped(m, served)) is not None), None))
    if edit is None:
        for m in list(marked):  # forgotten marks (a new forward since) no longer open the gate
            if edit_of(m) is None:
                marked.discard(m)
        d["_clean_at"] = key
        return None
    for m in module.modules():  # served for every parent below too: their calls are dropped alike
        m.__dict__["_served_at"] = _generation[0]
    return edit
