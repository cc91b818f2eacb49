"""Incident files as forces really send them: good rows mixed with the kinds of bad row, encoding and
file damage met in practice, each with the fate a loader must give it.

A row kind makes the fields of one row (a data.police.uk street row) and says what must become of
it: ``stored``, ``rejected``, ``either`` (it depends on the other rows: a swapped position is only
implausible beside enough plausible ones), ``duplicate`` (a repeat of an earlier row, counted as
already stored) or ``blank`` (not a data line). A file kind says how the rows are written and
whether the file as a whole must load or fail with one line.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from dataclasses import dataclass

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
          "LSOA name", "Crime type", "Last outcome category", "Context"]


def good(rng: random.Random, crime_id: str) -> list[str]:
    """A plausible Birmingham street crime."""
    return [crime_id, f"2019-{rng.randint(1, 12):02d}", "West Midlands Police", "West Midlands Police",
            f"{-1.9 + rng.uniform(-0.05, 0.05):.6f}", f"{52.48 + rng.uniform(-0.03, 0.03):.6f}",
            f"On or near {rng.choice(['High Street', 'Broad Street', 'Corporation Street'])}", "E01009000",
            "Birmingham 001A", rng.choice(["Violence and sexual offences", "Robbery", "Public order"]), "", ""]


def _with(field: str, value: str):
    column = HEADER.index(field)

    def make(rng: random.Random, crime_id: str) -> list[str]:
        row = good(rng, crime_id)
        row[column] = value
        return row
    return make


def _swapped(rng: random.Random, crime_id: str) -> list[str]:
    row = good(rng, crime_id)
    row[4], row[5] = row[5], row[4]
    return row


def _no_id(rng: random.Random, crime_id: str) -> list[str]:
    """No Crime ID: the row is known by its content, made unique here by naming the row in its location."""
    row = good(rng, "")
    row[6] = f"On or near Unit {crime_id}"
    return row


def _padded(rng: random.Random, crime_id: str) -> list[str]:
    return [f"  {v} " if v else v for v in good(rng, crime_id)]


#: name -> (row maker, fate)
ROW_KINDS = {
    "good": (good, "stored"),
    "multi-line location": (_with("Location", "On or near\nHigh Street"), "stored"),
    "formula in location": (_with("Location", '=HYPERLINK("http://x","y")'), "stored"),
    "quotes in location": (_with("Location", 'On or near "The Bull"'), "stored"),
    "non-ASCII location": (_with("Location", "On or near Café Street"), "stored"),
    "unknown offence": (_with("Crime type", "Knitting"), "stored"),
    "no crime id": (_no_id, "stored"),
    "padded fields": (_padded, "either"),
    "month 13": (_with("Month", "2019-13"), "rejected"),
    "missing month": (_with("Month", ""), "rejected"),
    "far year": (_with("Month", "2999-01"), "rejected"),
    "month in words": (_with("Month", "July"), "rejected"),
    "missing longitude": (_with("Longitude", ""), "rejected"),
    "latitude in words": (_with("Latitude", "fifty-two"), "rejected"),
    "latitude out of range": (_with("Latitude", "95.0"), "rejected"),
    "NaN longitude": (_with("Longitude", "nan"), "rejected"),
    "infinite latitude": (_with("Latitude", "inf"), "rejected"),
    "latitude and longitude swapped": (_swapped, "either"),
    "too few fields": (lambda rng, crime_id: good(rng, crime_id)[:5], "rejected"),
    "too many fields": (lambda rng, crime_id: [*good(rng, crime_id), "extra"], "rejected"),
    "NUL byte": (_with("Location", "On or near\x00High Street"), "rejected"),
    "oversized field": (_with("Location", "x" * 140_000), "rejected"),
    "repeated header": (lambda rng, crime_id: list(HEADER), "rejected"),
    "repeat of an earlier row": (None, "duplicate"),
    "blank line": (None, "blank"),
}


@dataclass(frozen=True)
class FileKind:
    """How the rows are written: delimiter, encoding (and whether the loader is told it), line ends,
    compression, and damage; ``loads`` says whether the file must load (or fail with one line)."""

    delimiter: str = ","
    encoding: str = "utf-8"
    told_encoding: bool = False
    bom: bool = False
    crlf: bool = False
    gzip: bool = False
    damage: str = ""  # truncated-gzip, corrupt-gzip, binary, empty, unterminated-quote

    @property
    def suffix(self) -> str:
        return ".csv.gz" if self.gzip or self.damage.endswith("gzip") else ".csv"


FILE_KINDS = {
    "UTF-8": FileKind(),
    "UTF-8 with BOM": FileKind(bom=True),
    "CRLF line ends": FileKind(crlf=True),
    "semicolons": FileKind(delimiter=";"),
    "tabs": FileKind(delimiter="\t"),
    "pipes": FileKind(delimiter="|"),
    "Windows-1252, told": FileKind(encoding="cp1252", told_encoding=True),
    "Windows-1252, not told": FileKind(encoding="cp1252"),
    "gzip": FileKind(gzip=True),
    "truncated gzip": FileKind(damage="truncated-gzip"),
    "corrupt gzip": FileKind(damage="corrupt-gzip"),
    "binary junk": FileKind(damage="binary"),
    "empty file": FileKind(damage="empty"),
    "unterminated quote at the end": FileKind(damage="unterminated-quote"),
}


@dataclass
class DamagedFile:
    """A file's bytes, the fate of each data line (its physical line number -> fate), and whether it
    must load."""

    data: bytes
    fates: dict[int, str]
    must_load: bool
    encoding: str | None
    suffix: str


def damaged_file(kinds: list[str], file_kind: str, seed: int, prefix: str) -> DamagedFile:
    """Write rows of ``kinds`` (names of ROW_KINDS) as ``file_kind`` (a name of FILE_KINDS)."""
    rng = random.Random(seed)
    how = FILE_KINDS[file_kind]
    rows: list[tuple[list[str] | None, str]] = []
    written: list[list[str]] = []
    for i, kind in enumerate(kinds):
        make, fate = ROW_KINDS[kind]
        if kind == "repeat of an earlier row":
            earlier = [r for r, f in rows if f == "stored" and r is not None and r[0]]
            rows.append((list(earlier[-1]), "duplicate") if earlier else (None, "blank"))
            continue
        if make is None:
            rows.append((None, fate))
            continue
        row = make(rng, f"{prefix}-{i:04d}")
        rows.append((row, fate))
        written.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=how.delimiter, lineterminator="\r\n" if how.crlf else "\n")
    writer.writerow(HEADER)
    fates: dict[int, str] = {}
    line = 2
    for row, fate in rows:
        if row is None:
            buffer.write("\r\n" if how.crlf else "\n")
            line += 1
            continue
        before = buffer.tell()
        writer.writerow(row)
        fates[line] = fate
        line += buffer.getvalue()[before:].count("\n")
    text = buffer.getvalue()
    must_load = True
    if how.damage == "unterminated-quote":
        text += '"On or near nowhere,2019-01\n'  # a quote never closed: the parser reads to the end
        fates[line] = "rejected"
    data = text.encode(how.encoding)
    if how.bom:
        data = b"\xef\xbb\xbf" + data
    if how.encoding != "utf-8" and not how.told_encoding and any(ord(c) > 127 for c in text):
        must_load = False  # one line naming the byte and the line, and suggesting cp1252
    if how.gzip or how.damage.endswith("gzip"):
        data = gzip.compress(data, mtime=0)
    if how.damage == "truncated-gzip":
        data, must_load = data[: max(len(data) // 2, 12)], False
    elif how.damage == "corrupt-gzip":
        middle = len(data) // 2
        data, must_load = data[:10] + bytes(b ^ 0x5A for b in data[10:middle]) + data[middle:], False
    elif how.damage == "binary":
        data, must_load = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + data, False
    elif how.damage == "empty":
        data, must_load = b"", False
    return DamagedFile(data, fates if must_load else {}, must_load,
                       how.encoding if how.told_encoding else None, how.suffix)
