"""pytest collects the Python blocks of README.md and docs/**/*.md (rules in tools/docblocks.py)."""

from tools.docblocks import make_sybil

pytest_collect_file = make_sybil(patterns=["README.md", "docs/*.md", "docs/*/*.md", "docs/*/*/*.md"]).pytest()
