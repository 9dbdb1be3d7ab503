"""The marks an edit leaves while forward calls wait, and the backward's refusal they cause.

An edit of a container (``minitorch/containers/editing.py``) while a forward call waits for its
backward drops the waiting calls of the container's children and marks what it changed:
- an edited Sequential keeps the edit in ``_edited`` until its next forward under grad mode;
- a module whose waiting calls were dropped shows a ``Dropped`` frame as ``_shown`` (an empty frame
  naming the edit: hiding it hides nothing) until its next forward under grad mode, which replaces
  it (``minitorch.call_frames``; a forward under no_grad, a failed one and a probe's keep it), and
  keeps the same ``Dropped`` as ``_dropped_by`` for good: a call of another container holding it,
  older than the edit, still waits in that container's other children, and a backward reaching
  it finds the module's own calls since the edit consumed (its stack empty; calls are consumed
  newest first) while another module below has a call waiting.
Every marked module is in ``marked``; while that set is not empty, the outermost backward-family
call of a module with children first looks for a mark below it (``edit_to_refuse``), so a
parent, or a second container holding a module the edit touched, refuses before any child adds a
gradient of a dropped call: one a module below still shows dropped, or, after that module's new
forward, one older than the edit. A copy (``copy.deepcopy``) of a module carries no mark: it
starts with no call waiting (``Module.__getstate__``), so its backward refuses as any module's
without a forward. A refusal drops every waiting call below the refusing module and serves the
marks there for it and every module below it (``_served_at``): a marked module that later
forwards leave uncalled (an unused head) makes a parent refuse once, not at every backward.
A module keeping ``_dropped_by`` stays in ``marked`` while it lives (nothing tells when the last
older call waiting elsewhere is gone), so after such an edit each parent's backward makes one
cached look (``_clean_at``); an ordinary step, with no edit while a call waited, makes none.
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
    """After ``discard_all``: ``module``'s waiting calls were dropped by ``edit`` (shown until its
    next forward, kept as ``_dropped_by`` for good)."""
    module.__dict__["_shown"] = module.__dict__["_dropped_by"] = Dropped(edit, _generation[0] + 1)
    mark(module)


def edit_of(module: Any, served: int = -1, waiting: bool = True) -> str | None:
    """Why a backward of (or through) ``module`` must refuse now, or None: an edit is pending,
    marked after generation ``served`` (``waiting``: another module below the backward's module
    has a call waiting)."""
    return _edited(module, served) or _dropped(module, served, waiting)


def _edited(module: Any, served: int) -> str | None:
    d = module.__dict__
    edited = d.get("_edited")  # a Sequential edited while a call waited
    if edited is not None and d.get("_edited_at", 0) > served:
        return (f"the {type(module).__name__} was edited ({edited}) while a forward call was waiting for "
                "its backward")
    return None


def _dropped(module: Any, served: int, waiting: bool) -> str | None:
    """An edit dropped ``module``'s waiting calls and the backward would consume one of them: it
    still shows them dropped, or it has forwarded since and its calls since are consumed (its stack
    is empty) while another module below has a call waiting, which is older than the edit then."""
    d = module.__dict__
    by = d.get("_dropped_by")
    if by is None or d["_stack"] or by.generation <= served:
        return None
    name = type(module).__name__
    if d["_shown"] is by:
        return (f"an edit ({by.edit}) of a container holding a {name} dropped the {name}'s waiting "
                "forward calls (a module held by two containers loses both containers' calls)")
    if not waiting:  # nothing else waits either: one backward more than forward, the usual error
        return None
    return (f"an edit ({by.edit}) of a container holding a {name} dropped the {name}'s forward calls "
            f"waiting then, and this call is older than the edit: its {name} call is gone (a module "
            "held by two containers loses both containers' calls)")


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
    clean = d.get("_clean_at")  # (key, the modules below keeping a dropped call's mark)
    if clean is not None and clean[0] == key and all(m.__dict__["_stack"] for m in clean[1]):
        return None  # (a recording parent: clean for the same children called)
    if called is not None:  # a recording parent: what the waiting call called (members removed
        # since included; a member it left uncalled, an unused head, cannot concern it)
        below = list(itertools.chain((module,), *(m.modules() for m in called)))
    else:
        below = list(module.modules())
    served = d.get("_served_at", -1)
    waiting = any(m.__dict__["_stack"] for m in below)
    edit = (next((e for m in below if (e := _edited(m, served)) is not None), None)  # the edit itself
            or next((e for m in below if (e := _dropped(m, served, waiting)) is not None), None))
    if edit is None:
        for m in list(marked):  # forgotten marks (a new forward since) no longer open the gate
            if edit_of(m) is None and "_dropped_by" not in m.__dict__:
                marked.discard(m)
        kept = tuple(m for m in below  # (a Dropped is an empty dict: falsy, so "is not None")
                     if (by := m.__dict__.get("_dropped_by")) is not None and by.generation > served)
        d["_clean_at"] = (key, kept)  # clean while each of those has a call waiting
        return None
    for m in module.modules():  # served for every parent below too: their calls are dropped alike
        m.__dict__["_served_at"] = _generation[0]
    return edit
