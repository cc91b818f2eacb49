"""The floors hold: import-linter's contracts (pyproject.toml) pass, and the store and the engine agree
on an incident's columns without importing each other."""

from __future__ import annotations

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
