"""Reading typed form fields (dates, seeds) with the shared one-line messages."""

from __future__ import annotations

import datetime as dt

from hotspots.core.errors import ValidationError


def form_day(text: str, name: str) -> dt.date | None:
    """A YYYY-MM-DD field; empty is None."""
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{name}={text!r}: give a date as YYYY-MM-DD", arguments=name) from None


def form_seed(text: str, name: str = "seed") -> int | None:
    """A non-negative whole number below 2**63; empty is None (a fresh seed, recorded)."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) >= 2**63:
        raise ValidationError(f"{name}={text!r}: give a whole number, or leave it empty for a fresh one",
                              arguments=name)
    return int(text)
