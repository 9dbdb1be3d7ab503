"""The site builds offline and strictly, in under a minute of CPU time, with the math rendered by the bundled
KaTeX and every exported name on an API page. Slow (a full build): `make test-slow` and .ci/run."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import minitorch as mt
from tools.docblocks import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str, float]:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the build's CPU seconds (user + system): its own work, whatever else the machine runs (its
    # wall-clock time grows with the machine's load)
    seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout + result.stderr, seconds


def test_builds_strictly_without_a_warning_in_under_a_minute(site):
    _, log, seconds = site
    assert "WARNING" not in log, log
    assert seconds < 60, f"mkdocs build took {seconds:.0f} CPU s"


def test_every_exported_name_is_documented_on_an_api_page(site):
    out, _, _ = site
    html = "".join(page.read_text(encoding="utf-8") for page in (out / "api").rglob("index.html"))
    missing = [name for name in mt.__all__ if f'id="minitorch.{name}"' not in html]
    assert not missing, missing


def test_math_is_rendered_by_the_bundled_katex(site):
    out, _, _ = site
    page = (out / "concepts" / "math" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<script src="[./]*assets/katex/katex\.min\.js"', page)
    assert re.search(r'<script src="[./]*assets/katex/contrib/auto-render\.min\.js"', page)
    assert re.search(r'<link rel="stylesheet" href="[./]*assets/katex/katex\.min\.css"', page)
    for asset in ("katex.min.js", "contrib/auto-render.min.js", "katex.min.css",
                  "fonts/KaTeX_Main-Regular.woff2"):
        assert (out / "assets" / "katex" / asset).is_file(), asset
    display = re.findall(r'<div class="arithmatex">(.*?)</div>', page, re.DOTALL)
    assert len(display) >= 4 and any(r"\frac{\partial L}{\partial W}" in math for math in display)


def test_pages_load_nothing_from_the_network(site):
    out, _, _ = site
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for attribute in re.findall(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"', text):
            assert "://" not in attribute and not attribute.startswith("//"), (page, attribute)


def test_figures_are_drawn_by_the_pages_at_build_time(site):
    out, _, _ = site
    for figure in ("tutorials/figures/iris_loss.png", "tutorials/figures/spirals_boundary.png",
                   "tutorials/figures/training_step.svg", "tutorials/figures/im2col.svg",
                   "how-to/figures/fit_loss.png", "concepts/figures/training_step.svg"):
        assert (out / figure).stat().st_size > 1000, figure
    page = (out / "tutorials" / "2-mlp-iris" / "index.html").read_text(encoding="utf-8")
    assert 'src="../figures/iris_loss.png"' in page
