"""The package's import map: nothing inside minitorch reaches up to its front door or the old shim."""

from __future__ import annotations

import ast
from pathlib import Path

import minitorch as mt

PACKAGE = Path(mt.__file__).parent


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != PACKAGE / "__init__.py":
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _is_submodule(name: str) -> bool:
    return (PACKAGE / f"{name}.py").exists() or (PACKAGE / name / "__init__.py").exists()


def test_no_module_imports_the_package_front_door():
    upward = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name == "minitorch" for alias in node.names):
                upward.append(f"{path.relative_to(PACKAGE)}:{node.lineno} import minitorch")
            if isinstance(node, ast.ImportFrom) and node.module == "minitorch" and node.level == 0:
                names = [alias.name for alias in node.names if not _is_submodule(alias.name)]
                if names:
                    upward.append(f"{path.relative_to(PACKAGE)}:{node.lineno} from minitorch import {names}")
    assert upward == []


def test_internal_code_does_not_import_the_model_utils_shim():
    users = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m == "minitorch.model_utils" for m in modules) and path.name != "model_utils.py":
                users.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert users == []


def test_the_version_has_one_source():
    from minitorch.version import __version__

    assert mt.__version__ == __version__
