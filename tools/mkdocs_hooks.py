"""MkDocs hooks (mkdocs.yml): a nav that survives missing pages, and figures drawn by the pages' code.

- Pages listed in the nav that do not exist yet (the sequence and attention tutorials arrive with
  their features) are left out of the nav instead of failing the strict build; pages that exist but
  are not in the nav are added under "More", so a new page is never silently missing from the site.
- A page whose Markdown shows images from ``figures/`` is run (its Python blocks, as the tests run
  them, tools/docblocks.py) in a temporary folder, and the files it wrote under ``figures/`` become
  files of the site beside the page. A page that fails to run fails the build.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the pages import tools.diagrams, as under pytest

from tools.docblocks import run_page  # noqa: E402

log = logging.getLogger("mkdocs.hooks.minitorch")
FIGURE = re.compile(r"\]\(figures/([^)\s]+)\)")
_tempdirs: list[tempfile.TemporaryDirectory[str]] = []


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    return []


def _prune(nav: Any, docs: Path) -> Any:
    """The nav without entries whose .md file does not exist (None when nothing is left)."""
    if isinstance(nav, str):
        return nav if not nav.endswith(".md") or (docs / nav).exists() else None
    if isinstance(nav, dict):
        kept = {key: _prune(value, docs) for key, value in nav.items()}
        kept = {key: value for key, value in kept.items() if value is not None}
        return kept or None
    if isinstance(nav, list):
        kept = [item for item in (_prune(item, docs) for item in nav) if item is not None]
        return kept or None
    return nav


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    if config["nav"]:
        listed = set(_nav_pages(config["nav"]))
        missing = sorted(page for page in listed if page.endswith(".md") and not (docs / page).exists())
        if missing:
            log.info("nav entries without a page yet, left out: %s", ", ".join(missing))
        config["nav"] = _prune(config["nav"], docs)
        pages = (p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
        extra = sorted(page for page in pages if page not in listed)
        if extra:
            config["nav"].append({"More": extra})
    return config


def on_files(files: Files, config: Any) -> Files:
    for page in list(files.documentation_pages()):
        source = Path(page.abs_src_path)
        if not FIGURE.search(source.read_text(encoding="utf-8")):
            continue
        folder = tempfile.TemporaryDirectory(prefix="minitorch-docs-build-")
        _tempdirs.append(folder)
        start = time.perf_counter()
        run_page(source, Path(folder.name))
        log.info("ran %s for its figures in %.1f s", page.src_uri, time.perf_counter() - start)
        page_dir = Path(page.src_uri).parent
        for figure in sorted((Path(folder.name) / "figures").glob("*")):
            src_uri = (page_dir / "figures" / figure.name).as_posix()
            files.append(File.generated(config, src_uri, abs_src_path=str(figure)))
    return files


def on_post_build(config: Any) -> None:
    while _tempdirs:
        _tempdirs.pop().cleanup()
