"""Every Python block of README.md and docs/**/*.md runs: the rules, shared by pytest and the site build.

A page is one namespace: its blocks run top to bottom, later blocks see what earlier ones defined,
in a fresh temporary working directory (files a page writes never land in the repository), from
MiniTorch's defaults (seed 0, float32, ...) with every global setting it changes put back after it
(``tools.global_state.fresh_defaults``, the tests' own fixture): a page that turns the kernels
off, sets the thread count or leaves a ``no_grad`` open does not change the next page.

    ```python                   runs (pytest, through Sybil; the docs build runs the pages with figures)
    <!-- skip: next "why" -->   the next block does not run; the reason is required
    <!-- output -->            the ```text block after it must equal what the previous Python block
                                printed: a line "..." stands for any number of lines, and each number
                                is compared at the precision it is written with: 0.1895 matches any
                                printed value that rounds to it (0.18953, 0.18946), not 0.1897
    <!-- invisible-code-block: python
    code                        runs like a block but is not shown (used to draw the diagrams)
    -->

tests/test_docs_blocks.py fails on any fenced block whose language says Python but that would not
run (```py, ```Python, ```pycon, no language, a skip without a reason, ...).

After a deliberate change of results, `python -m tools.docblocks --refresh PAGE.md ...` rewrites the
output blocks that no longer match with what the code prints now (review the diff).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import unittest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sybil import Document, Example, Region, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parent.parent
PRINTED = "__printed__"  # namespace key: what the last Python block printed
PAGE = "__docs_page__"  # namespace key: the page's path

OUTPUT_BLOCK = re.compile(
    r"^<!--\s*output\s*-->[ \t]*\n(?P<fence>`{3,})[\w-]*[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
FIGURE = re.compile(r"\]\(figures/([^)\s]+)\)")  # ![...](figures/name.png): the page's code draws it


def markdown_pages(root: Path = ROOT) -> list[Path]:
    """README.md and every page under docs/, the set whose blocks must run."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


class PrintingEvaluator:
    """Run a Python block as PythonEvaluator does, keeping what it printed for an output block."""

    def __init__(self) -> None:
        self.run = PythonEvaluator()

    def __call__(self, example: Example) -> None:
        __tracebackhide__ = True
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                self.run(example)
        finally:
            example.namespace[PRINTED] = printed.getvalue()


def output_parser(document: Document) -> Iterator[Region]:
    for match in OUTPUT_BLOCK.finditer(document.text):
        yield Region(match.start(), match.end(), match.group("body"), compare_output)


def compare_output(example: Example) -> str | None:
    printed = example.namespace.pop(PRINTED, None)
    if printed is None:
        return "output block: no Python block ran before it (or its output was already compared)"
    return output_mismatch(str(example.parsed), printed)


def output_mismatch(expected: str, actual: str) -> str | None:
    """None when ``actual`` matches ``expected`` (see the module docstring), else a message."""
    want = [line.rstrip() for line in expected.rstrip("\n").split("\n")]
    got = [line.rstrip() for line in actual.rstrip("\n").split("\n")] if actual.strip() else []
    if _lines_match(want, got):
        return None
    return "printed output differs from the page\n--- expected\n{}\n--- printed\n{}".format(
        "\n".join(want), "\n".join(got))


def _lines_match(want: list[str], got: list[str]) -> bool:
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(want):
                memo[i, j] = j == len(got)
            elif want[i] == "...":
                memo[i, j] = any(match(i + 1, k) for k in range(j, len(got) + 1))
            else:
                memo[i, j] = j < len(got) and line_matches(want[i], got[j]) and match(i + 1, j + 1)
        return memo[i, j]

    return match(0, 0)


def line_matches(want: str, got: str) -> bool:
    """Equal text between the numbers; each number equal at the precision written in ``want``."""
    want_numbers, got_numbers = NUMBER.findall(want), NUMBER.findall(got)
    if NUMBER.sub("#", want) != NUMBER.sub("#", got) or len(want_numbers) != len(got_numbers):
        return False
    return all(_number_matches(w, g) for w, g in zip(want_numbers, got_numbers, strict=True))


def _number_matches(want: str, got: str) -> bool:
    mantissa = re.split("[eE]", want)[0]
    if "." not in mantissa:
        return want == got
    decimals = len(mantissa.split(".")[1])
    exponent = int(re.split("[eE]", want)[1]) if re.search("[eE]", want) else 0
    unit = 10.0 ** (exponent - decimals)
    return abs(float(want) - float(got)) <= unit * 0.5000001


def one_blas_thread() -> Any:
    """Limit BLAS to one thread until ``.restore_original_limits()``; the pages' batches are tiny.

    Small products (a batch of 16 8x8 images) run many times slower on several BLAS threads when the
    machine is busy (17x measured on a loaded 2-core machine), see docs/how-to/speed.md.
    """
    import numpy  # noqa: F401  (threadpoolctl limits the BLAS libraries loaded so far: load NumPy's)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class _Workdir:
    """Each page runs in its own empty temporary folder, one BLAS thread, from MiniTorch's defaults,
    and every global setting it changed is put back after it."""

    def __init__(self) -> None:
        self.saved: list[tuple[str, tempfile.TemporaryDirectory[str], Any, Any]] = []

    def setup(self, namespace: dict[str, Any]) -> None:
        from tools.global_state import fresh_defaults

        folder = tempfile.TemporaryDirectory(prefix="minitorch-docs-")
        limits = one_blas_thread()
        defaults = fresh_defaults()
        defaults.__enter__()
        self.saved.append((os.getcwd(), folder, limits, defaults))
        os.chdir(folder.name)
        namespace["__docs_workdir__"] = folder.name

    def teardown(self, namespace: dict[str, Any]) -> None:
        cwd, folder, limits, defaults = self.saved.pop()
        defaults.__exit__(None, None, None)
        limits.restore_original_limits()
        os.chdir(cwd)
        page = namespace.get(PAGE)
        missing = missing_figures(page, Path(folder.name))
        folder.cleanup()
        if missing:
            raise AssertionError(f"{page}: the page shows figures its code did not write: {missing}")


def missing_figures(page: str | None, workdir: Path) -> list[str]:
    """The ``figures/...`` images a page shows that its code did not write into ``workdir``."""
    if page is None or not Path(page).is_file():
        return []
    shown = FIGURE.findall(Path(page).read_text(encoding="utf-8"))
    return [name for name in shown if not (workdir / "figures" / name).is_file()]


class Page(Document):
    """A Markdown page whose namespace knows the page's path (to check the figures it shows)."""

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text, path)
        self.namespace[PAGE] = path


def parsers() -> list[Any]:
    return [CodeBlockParser("python", PrintingEvaluator()), SkipParser(), output_parser]


def make_sybil(**kwargs: Any) -> Sybil:
    workdir = _Workdir()
    return Sybil(parsers=parsers(), path=str(ROOT), setup=workdir.setup, teardown=workdir.teardown,
                 document_types={".md": Page}, **kwargs)


def run_page(path: Path, workdir: Path) -> None:
    """Run every example of one page in ``workdir`` (the docs build uses this to draw its figures)."""
    from tools.global_state import fresh_defaults

    document = Sybil(parsers=parsers()).parse(path)
    cwd = os.getcwd()
    os.chdir(workdir)
    limits = one_blas_thread()
    try:
        with fresh_defaults():
            for example in document.examples():
                try:
                    example.evaluate()
                except unittest.SkipTest:
                    continue
    finally:
        limits.restore_original_limits()
        os.chdir(cwd)


def refresh_outputs(path: Path) -> list[str]:
    """Rewrite the page's output blocks that no longer match with what the code now prints.

    For a deliberate change (new defaults, a new kernel's rounding): run it, then read the diff. A
    block with "..." lines is left for a person to edit, and reported.
    """
    from tools.global_state import fresh_defaults

    text = path.read_text(encoding="utf-8")
    document = Sybil(parsers=parsers()).parse(path)
    replacements, notes = [], []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="minitorch-docs-") as folder:
        os.chdir(folder)
        limits = one_blas_thread()
        defaults = fresh_defaults()
        defaults.__enter__()
        try:
            for example in document.examples():
                if example.region.evaluator is compare_output:
                    printed = example.namespace.pop(PRINTED, "")
                    expected = str(example.parsed)
                    if output_mismatch(expected, printed) is None:
                        continue
                    if any(line.strip() == "..." for line in expected.split("\n")):
                        notes.append(f"{path}:{example.line}: output with '...' differs; edit it by hand")
                        continue
                    start = example.region.start + text[example.region.start:].index(expected)
                    replacements.append((start, start + len(expected), printed))
                    notes.append(f"{path}:{example.line}: output refreshed")
                else:
                    try:
                        example.evaluate()
                    except unittest.SkipTest:
                        continue
        finally:
            defaults.__exit__(None, None, None)
            limits.restore_original_limits()
            os.chdir(cwd)
    for start, end, printed in reversed(replacements):
        text = text[:start] + printed.rstrip("\n") + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")
    return notes


if __name__ == "__main__":
    import sys

    # python -m tools.docblocks --refresh docs/tutorials/2-mlp-iris.md ...
    if len(sys.argv) < 3 or sys.argv[1] != "--refresh":
        sys.exit("usage: python -m tools.docblocks --refresh PAGE.md [PAGE.md ...]")
    for page in sys.argv[2:]:
        for note in refresh_outputs(Path(page).resolve()):
            print(note)
