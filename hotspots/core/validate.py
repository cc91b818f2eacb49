"""Shared argument validation.

Every message names the argument, shows the bad value and says what would work, so a user
error reads the same whether it comes from the CLI, the API or a notebook.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

from hotspots.core.errors import FormatError, ValidationError

MIN_RESOLUTION = 7
MAX_RESOLUTION = 11


def check_choice(value: str, choices: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the valid ones."""
    valid = list(choices)
    if value not in valid:
        raise ValidationError(f"{name}={value!r} is not known; use one of: {', '.join(valid)}", arguments=name)
    return value


def check_resolution(value: int, name: str = "resolution") -> int:
    """H3 resolutions 7 (about 5 km² a cell) to 11 (about 2,000 m²) are supported."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValidationError(f"{name}={value!r} must be a whole number from {MIN_RESOLUTION} to {MAX_RESOLUTION}",
                              arguments=name)
    if not MIN_RESOLUTION <= int(value) <= MAX_RESOLUTION:
        raise ValidationError(
            f"{name}={value!r} is outside the supported H3 resolutions; use {MIN_RESOLUTION} to "
            f"{MAX_RESOLUTION} (10 is about 15,000 m² a cell)", arguments=name)
    return int(value)


def check_positive(value: float, name: str, unit: str = "") -> float:
    if not value > 0:
        raise ValidationError(f"{name}={value!r} must be greater than zero{' ' + unit if unit else ''}", arguments=name)
    return value


def check_fraction(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValidationError(f"{name}={value!r} must be a fraction between 0 and 1 (e.g. 0.2 for 20%)", arguments=name)
    return value


def check_file(path: str | Path, name: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"{name}: no such file {str(p)!r}; check the path", arguments=name)
    return p


def check_compressed(path: str | Path, chunk: int = 1 << 20) -> Path:
    """Read a ``.gz`` file through once: a download cut short or a damaged file is one clear error
    before any of it is stored, not an EOFError half-way through a batch. Other files pass as they are.
    The message names the file, never the folder it was uploaded to."""
    p = Path(path)
    if p.suffix.lower() != ".gz":
        return p
    try:
        with gzip.open(p, "rb") as stream:
            while stream.read(chunk):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        what = "truncated (the download or copy was cut short)" if isinstance(exc, EOFError) else "not a valid gzip file"
        raise FormatError(f"{p.name}: the compressed file is {what}; nothing of it was stored") from None
    return p
