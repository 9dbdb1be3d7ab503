"""The documentation's code runs: every Python block of README.md and docs/ is a test (conftest.py,
tools/docblocks.py). These tests guard that machinery: no block escapes it, output comparison can
fail, and the API pages list every exported name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from leaks import LEAK_EVERY_SETTING

import minitorch as mt
from tools.docblocks import ROOT, make_sybil, markdown_pages, output_mismatch

FENCE = re.compile(
    r"^(?P<indent>[ \t]*(?:[-*+]\s+|\d+[.)]\s+|>\s*)?)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$"
)
# Languages that are not Python and so never run: shell sessions, pictures in text, configuration.
NOT_PYTHON = {"text", "sh", "bash", "console", "shell", "toml", "yaml", "json", "ini", "diff", "html", "js"}
PYTHON_LIKE = re.compile(r"^(py|python\d?|pycon|ipython|python-repl)$", re.IGNORECASE)
SKIP = re.compile(r"<!--\s*skip:\s*(?P<action>\w+)(?P<reason>[^>]*?)\s*-->")


def fenced_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, info string) of every fenced block, found independently of Sybil."""
    blocks, open_fence = [], None
    for number, line in enumerate(text.split("\n"), start=1):
        match = FENCE.match(line)
        if not match:
            continue
        fence = match.group("fence")
        if open_fence is None:
            open_fence = fence
            blocks.append((number, match.group("info").strip()))
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not match.group("info").strip():
            open_fence = None
    return blocks


PAGES = markdown_pages()


def test_the_page_set_is_readme_and_every_docs_page():
    assert PAGES[0] == ROOT / "README.md"
    assert len(PAGES) >= 15, "docs/ lost its pages?"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_runs_or_says_why_not(page: Path):
    """A fenced block is Python that runs (```python), marked skipped with a reason, or another language."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for line, info in fenced_blocks(text):
        language = info.split()[0] if info else ""
        if not language:
            problems.append(f"line {line}: a fenced block without a language (```python runs; "
                            "```text for output or pictures, ```sh for commands)")
        elif language == "python" and info != "python":
            problems.append(f"line {line}: ```{info}: write exactly ```python so that it runs")
        elif PYTHON_LIKE.match(language) and language != "python":
            problems.append(f"line {line}: ```{language} never runs; write ```python (or mark it "
                            '<!-- skip: next "reason" -->)')
        elif language != "python" and language.lower() not in NOT_PYTHON:
            problems.append(f"line {line}: unknown language ```{language}; add it to NOT_PYTHON if "
                            "it is not Python")
    python_lines = {line for line, info in fenced_blocks(text) if info == "python"}
    document = make_sybil().parse(page)
    collected = {example.line for example in document.examples()}
    for line in sorted(python_lines - collected):
        problems.append(f"line {line}: a ```python block that Sybil does not collect "
                        "(indented? inside HTML?)")
    for match in SKIP.finditer(text):
        line = text[: match.start()].count("\n") + 1
        if match.group("action") in ("next", "start") and not match.group("reason").strip():
            problems.append(f'line {line}: a skip needs a reason: <!-- skip: next "why" -->')
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_block_scanner_sees_what_the_rule_forbids():
    text = "\n".join(["```py", "x = 1", "```", "", "```", "y", "```", "", "```python", "z = 2", "```"])
    assert fenced_blocks(text) == [(1, "py"), (5, ""), (9, "python")]


@pytest.mark.parametrize("expected, printed", [
    ("loss 0.1895", "loss 0.18953"),
    ("loss 0.1895", "loss 0.18946"),
    ("accuracy 96.67%", "accuracy 96.6667%"),
    ("a\n...\nz", "a\nb\nc\nz"),
    ("a\n...\nz", "a\nz"),
    ("(2, 3) float32", "(2, 3) float32\n"),
    ("value 1.5e-03", "value 0.0015"),
])
def test_output_blocks_match_at_the_written_precision(expected, printed):
    assert output_mismatch(expected, printed) is None


@pytest.mark.parametrize("expected, printed", [
    ("loss 0.1895", "loss 0.1897"),
    ("loss 0.9", "loss 0.8"),
    ("epoch 20", "epoch 21"),
    ("(2, 3)", "(2, 4)"),
    ("a\n...\nz", "a\nb"),
    ("a\nb", "a\nb\nc"),
    ("True", "False"),
    ("loss 0.19", "loss: 0.19"),
])
def test_output_blocks_catch_a_different_result(expected, printed):
    assert output_mismatch(expected, printed) is not None


def api_names() -> set[str]:
    names = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        names |= set(re.findall(r"^:::\s*minitorch\.(\w+)\s*$", text, re.MULTILINE))
    return names


def test_every_exported_name_has_an_api_entry():
    missing = sorted(set(mt.__all__) - api_names())
    assert not missing, ("names in minitorch.__all__ without an API entry; add a line "
                         f"'::: minitorch.NAME' to a page of docs/api/: {missing}")


def test_api_entries_name_only_exported_names():
    assert api_names() <= set(mt.__all__)


def test_the_site_config_fetches_nothing():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8").replace("!!python", "#"))
    assert config["theme"]["font"] is False, "Material would load Google fonts"
    for asset in config["extra_javascript"] + config["extra_css"]:
        assert "://" not in asset and (ROOT / "docs" / asset).is_file(), asset
    handler = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    assert "inventories" not in handler and "import" not in handler, "remote inventories are fetched"


def test_the_nav_drops_pages_not_written_yet_and_lists_pages_it_forgot(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    from tools.mkdocs_hooks import on_config

    for page in ("index.md", "a.md", "new.md"):
        (tmp_path / page).write_text("# page\n")
    config = {"docs_dir": str(tmp_path),
              "nav": [{"Home": "index.md"}, {"Part": [{"A": "a.md"}, {"Later": "later.md"}]},
                      {"Gone": [{"B": "b.md"}]}]}
    assert on_config(config)["nav"] == [{"Home": "index.md"}, {"Part": [{"A": "a.md"}]}, {"More": ["new.md"]}]


LEAKING_PAGE = f"```python\n{LEAK_EVERY_SETTING}```\n"

LOOKING_PAGE = """```python
import torch

import minitorch as mt
from minitorch import threads

seen = dict(draws=mt.random.generator().random(3), dtype=mt.get_default_dtype(),
            kernels=mt.kernels.kernels_enabled(), threads=threads._state["explicit"],
            grad=mt.is_grad_enabled(), torch=torch.get_default_dtype())
```
"""


def test_a_page_that_changes_every_global_setting_leaves_the_next_page_the_defaults(tmp_path):
    """Each page runs from the defaults and its changes are put back after it (the settings the
    tests' fixture restores: tools/global_state.py), as pytest runs the pages one after another."""
    import numpy as np
    import torch

    from minitorch import threads

    pytest.importorskip("threadpoolctl")
    before = (mt.kernels.kernels_enabled(), threads._state["explicit"])
    sybil, pages = make_sybil(), []
    for name, text in (("leaks.md", LEAKING_PAGE), ("looks.md", LOOKING_PAGE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        document = sybil.parse(tmp_path / name)
        sybil.setup(document.namespace)
        try:
            for example in document.examples():
                example.evaluate()
        finally:
            sybil.teardown(document.namespace)
        pages.append(document.namespace)
    seen = pages[1]["seen"]
    np.testing.assert_array_equal(seen["draws"], mt.manual_seed(0).random(3))
    assert seen["dtype"] == np.float32 and seen["torch"] == torch.float32 and seen["grad"]
    assert (seen["kernels"], seen["threads"]) == before
    assert (mt.kernels.kernels_enabled(), threads._state["explicit"]) == before and mt.is_grad_enabled()
