"""The floors hold: import-linter's contracts (pyproject.toml) pass, and the store and the engine agree
on an incident's columns without importing each other."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from hotspots.crime.aggregate import INCIDENT_COLUMNS
from hotspots.ingest.normalise import INCIDENT_COLUMNS as NORMALISED_COLUMNS
from hotspots.store.bulk import INCIDENT_COLUMNS as STORED_COLUMNS
from hotspots.store.incidents import READ_COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_store_and_engine_agree_on_incident_columns():
    assert NORMALISED_COLUMNS == STORED_COLUMNS
    assert READ_COLUMNS == INCIDENT_COLUMNS


def _public_functions():
    """(place, function node) for every public function and method below the front ends."""
    for top in ("hotspots", "models", "maps"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "cli" in rel.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            stack = [(tree, "")]
            while stack:
                node, prefix = stack.pop()
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                        stack.append((child, f"{prefix}{child.name}."))
                    elif isinstance(child, ast.FunctionDef) and not child.name.startswith("_"):
                        yield f"{rel}:{child.lineno} {prefix}{child.name}", child


def test_public_functions_with_five_or_more_parameters_document_them():
    """numpydoc Parameters, and Returns (or Yields) where the function returns something."""
    missing = []
    for place, fn in _public_functions():
        args = fn.args
        names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
        if len(names) < 5:
            continue
        doc = ast.get_docstring(fn) or ""
        returns = any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn))
        yields = any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(fn))
        if "Parameters\n" not in doc or (returns and "Returns\n" not in doc) or (yields and "Yields\n" not in doc):
            missing.append(place)
    assert missing == []
