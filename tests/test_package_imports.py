"""The package's import map: nothing inside minitorch reaches up to its front door or the old shim."""

from __future__ import annotations

import ast
import subprocess
import sys
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


def _import_each_first(package: str, after_each: str, then: str) -> list[str]:
    """Import each file of minitorch.<package> as the first one of a fresh interpreter (every minitorch
    module dropped before the next), running ``after_each`` after each import and ``then`` at the end;
    the files' names, for the caller's check. A cycle, or a failing check, fails the run."""
    files = sorted(path.stem for path in (PACKAGE / package).glob("*.py") if path.stem != "__init__")
    script = (
        "import importlib, sys\ncounts = set()  # for after_each\n"
        f"for name in {files!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'minitorch' or m.startswith('minitorch.')]:\n"
        "        del sys.modules[loaded]\n"
        f"    importlib.import_module('minitorch.{package}.' + name)\n"
        f"    {after_each}\n"
        f"{then}"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    return files


def test_each_file_of_the_init_package_imports_first_without_a_cycle():
    """minitorch.init's files import one another only downwards (_arrays, fans, fills, then the rest):
    each can be the first one a fresh interpreter imports, and every public name is reachable the three
    ways it always was (mt.init.X, minitorch.init.X, from minitorch.init import X)."""
    files = _import_each_first("init", "pass", (
        "import minitorch as mt, minitorch.init as init\n"
        "from minitorch.init import *  # noqa\n"
        "for name in init.__all__:\n"
        "    assert getattr(mt.init, name) is getattr(init, name) is globals()[name], name\n"
    ))
    assert {"_arrays", "fans", "fills", "scaled", "structured", "truncated"} <= set(files)


def test_each_file_of_the_onnx_package_imports_first_and_every_emitter_registers():
    """minitorch.onnx's files (exporter, graph, registry, validation, emitters*) import without a cycle,
    each as the first one a fresh interpreter imports; whichever comes first, every emitter is registered
    (the package's __init__ imports them), and the public names are the same objects every way in."""
    files = _import_each_first("onnx", "counts.add(len(sys.modules['minitorch.onnx.registry'].EMITTERS))", (
        "import minitorch as mt, minitorch.onnx.exporter as exporter\n"
        "from minitorch.onnx import EMITTERS, NOT_EXPORTABLE, export\n"
        "assert counts == {len(EMITTERS)}, counts\n"
        "assert {mt.Linear, mt.BatchNorm1d, mt.Conv2d, mt.SiLU} <= set(EMITTERS)  # one per emitters file\n"
        "assert mt.onnx.export is exporter.export is export\n"
        "assert mt.onnx.EMITTERS is exporter.EMITTERS is EMITTERS\n"
        "assert mt.onnx.NOT_EXPORTABLE is exporter.NOT_EXPORTABLE is NOT_EXPORTABLE\n"
    ))
    assert {"exporter", "graph", "registry", "validation", "emitters", "emitters_more"} <= set(files)


def test_each_file_of_the_interop_package_imports_first_without_torch_or_a_cycle():
    """minitorch.interop's files (the two directions over the layer table, twin state, attention settings
    and checks) import without a cycle, each as the first one a fresh interpreter imports; whichever comes
    first, the layer table has filled module.py's TORCH_LAYOUT and TORCH_STATE_NAMES and torch is not
    imported; the public names are the same objects every way in."""
    files = _import_each_first("interop", (
        "from minitorch.module import TORCH_LAYOUT, TORCH_STATE_NAMES\n"
        "    counts.add((len(TORCH_LAYOUT), len(TORCH_STATE_NAMES), 'torch' in sys.modules))"
    ), (
        "import minitorch as mt, minitorch.interop as interop\n"
        "from minitorch.interop import ATTENTION_LAYERS, LAYERS, NOT_CONVERTIBLE, from_torch, to_torch\n"
        "from minitorch.interop import _torch_state_names  # noqa: F401\n"
        "assert len(counts) == 1 and next(iter(counts))[2] is False, counts\n"
        "assert next(iter(counts))[:2] == (len(LAYERS) + len(ATTENTION_LAYERS), 1), counts\n"
        "for name in interop.__all__:\n"
        "    assert getattr(mt.interop, name) is getattr(interop, name) is globals()[name], name\n"
        "assert sorted(interop.__all__) == ['ATTENTION_LAYERS', 'LAYERS', 'NOT_CONVERTIBLE', 'from_torch', "
        "'to_torch']\n"
    ))
    assert set(files) == {"attention_settings", "checks", "convert_from_torch", "convert_to_torch",
                          "layer_table", "twin_state"}


def test_the_torch_tables_are_full_when_module_py_is_imported_first():
    """module.py's TORCH_STATE_NAMES / TORCH_LAYOUT docstrings: importing any minitorch file (module.py
    itself here, first in a fresh interpreter) runs the package's __init__, which imports interop, whose
    layer_table.py fills both before any model exists."""
    script = (
        "from minitorch.module import TORCH_LAYOUT, TORCH_STATE_NAMES\n"
        "from minitorch.interop.layer_table import ATTENTION_LAYERS, LAYERS\n"
        "assert set(TORCH_LAYOUT) == set(LAYERS) | set(ATTENTION_LAYERS), len(TORCH_LAYOUT)\n"
        "assert list(TORCH_STATE_NAMES) == [__import__('minitorch').Linear], TORCH_STATE_NAMES\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
