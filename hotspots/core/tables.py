"""Every CSV the project writes goes through here, so none of them can run a formula.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return; text from the data (a location, a hotspot name, a rejected raw line) could start that
way. OWASP's advice: prefix such text with an apostrophe, which the spreadsheet shows as text.
Numbers are left alone (a negative longitude is a number, not a formula).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` with a leading apostrophe if it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns are neutralised (numeric columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def csv_text(frame: pd.DataFrame, **to_csv) -> str:
    """``frame`` as CSV text, formulas neutralised."""
    return safe_table(frame).to_csv(index=False, **to_csv)


def write_csv(frame: pd.DataFrame, path: str | Path, **to_csv) -> Path:
    """Write ``frame`` to ``path`` as CSV, formulas neutralised, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    safe_table(frame).to_csv(tmp, index=False, **to_csv)
    os.replace(tmp, path)
    return path


def json_records(frame: pd.DataFrame) -> list[dict]:
    """``frame``'s rows as JSON-ready dicts: NaN and infinities as None, dates and times as ISO text."""
    clean = frame.astype(object).where(frame.notna(), None).replace([float("inf"), float("-inf")], None)
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in clean.to_dict("records")]
