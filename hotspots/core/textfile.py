"""Text files as analysts are handed them: compressed or not, in any encoding Python knows, with
any of the usual delimiters; read row by row with each row's physical line, so one unreadable or
misshapen row is rejected with its line while the rest of the file is read.

Damage to the file as a whole (a truncated download, binary content, text in another encoding)
is one :class:`~hotspots.core.errors.FormatError` naming the file, the line and what to try.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from hotspots.core.arrow_csv import ArrowRows, read_clean_csv
from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.validate import check_compressed

log = logging.getLogger(__name__)

#: Field delimiters a CSV may use, told apart by the header (or named with ``delimiter``).
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def check_encoding(encoding: str | None, name: str = "encoding") -> str:
    """The codec for ``encoding`` (default UTF-8, a byte-order mark skipped); unknown names are refused."""
    if not encoding:
        return "utf-8-sig"
    try:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,40}", encoding):
            raise LookupError(encoding)
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib: codecs, not text encodings
            raise LookupError(encoding)
        codec = info.name
    except LookupError:
        raise ValidationError(f"{name}={encoding!r} is not an encoding Python knows; use e.g. utf-8, cp1252 "
                              "(Windows/Excel) or latin-1", arguments=name) from None
    return "utf-8-sig" if codec == "utf-8" else codec


def check_delimiter(delimiter: str | None, name: str = "delimiter") -> str | None:
    """A delimiter given by name or character (None or ``auto``: told from the header)."""
    if delimiter in (None, "", "auto"):
        return None
    by_name = {v: k for k, v in DELIMITERS.items()} | {"\\t": "\t"}
    if delimiter in by_name:
        return by_name[delimiter]
    if delimiter in DELIMITERS:
        return delimiter
    raise ValidationError(f"{name}={delimiter!r} is not a delimiter this reads; use auto, comma, semicolon, tab "
                          "or pipe", arguments=name)


def open_text(path: Path, encoding: str | None = None) -> io.TextIOBase:
    """Open a (possibly gzipped) text file in ``encoding`` (default UTF-8); a damaged compressed
    file, binary junk or text in another encoding fails with one clear line."""
    codec = check_encoding(encoding)

    def make() -> io.TextIOBase:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding=codec, newline="")
        return open(path, encoding=codec, newline="")

    check_compressed(path)
    try:
        with make() as probe:
            probe.read(4096)  # provoke decoding errors here, not half-way through a batch
        return make()
    except UnicodeError:
        raise decoding_error(path, codec) from None
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise FormatError(f"{path.name}: not a readable text file ({type(exc).__name__})") from None


def decoding_error(path: Path, codec: str) -> FormatError:
    """The error for a file that is not text in ``codec``: which byte, on which physical line, and
    the encoding to try (read once more, in blocks, only when the file has failed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    decoder = codecs.getincrementaldecoder(codec)()
    lines_before = 0
    with opener(path, "rb") as raw:
        if b"\x00" in raw.read(4096) and not codec.startswith("utf-16") and not codec.startswith("utf-32"):
            return FormatError(f"{path.name}: not a text file (it looks binary: NUL bytes in its first 4 kB)")
        raw.seek(0)
        for block in iter(lambda: raw.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeError as exc:
                if not isinstance(exc, UnicodeDecodeError):
                    break
                line = lines_before + exc.object[: exc.start].count(b"\n") + 1
                shown = "UTF-8" if codec == "utf-8-sig" else codec
                hint = ("; a file saved from Excel on Windows is usually Windows-1252: load it with encoding cp1252"
                        if codec == "utf-8-sig" else "; name the encoding the file was saved in")
                return FormatError(f"{path.name}: line {line}: byte 0x{exc.object[exc.start]:02X} is not valid "
                                   f"{shown} text{hint}", arguments="encoding")
            lines_before += block.count(b"\n")
    return FormatError(f"{path.name}: not valid text in {codec}; name the encoding the file was saved in",
                       arguments="encoding")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits a header line into the most fields (comma when none splits it)."""
    best, most = ",", 1
    for delimiter in DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        if len(fields) > most:
            best, most = delimiter, len(fields)
    return best


def _header_of(path: Path, first: str, options: dict) -> tuple[list[str], str]:
    """The header and delimiter from a file's first line (``options``: ``delimiter``, else told from it)."""
    if "\x00" in first:
        raise FormatError(f"{path.name}: not a text CSV file (it holds NUL bytes)")
    line = first.rstrip("\r\n")
    delimiter = check_delimiter(options.get("delimiter")) or sniff_delimiter(line)
    try:
        header = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise FormatError(f"{path.name}: not a CSV file ({exc})") from None
    return [h.strip() for h in header], delimiter


def read_header(path: Path, options: dict | None = None) -> tuple[list[str], str]:
    """A CSV file's header and its delimiter (``options``: ``encoding``; ``delimiter`` or told from the header)."""
    options = options or {}
    with open_text(path, options.get("encoding")) as handle:
        try:
            first = handle.readline()
        except UnicodeError:
            raise decoding_error(path, check_encoding(options.get("encoding"))) from None
    return _header_of(path, first, options)


@dataclass
class CsvRows:
    """The rows of a CSV file of the header's width, each with the physical line it starts on, and the
    rows rejected on the way: ``(line, reason, raw text)``."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    delimiter: str = ","
    columns: ArrowRows | None = None  # the fast path's result: text columns, lines in ``lines``, no ``rows``


def csv_line(values) -> str:
    """``values`` as one CSV line (no line end)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def read_csv_rows(path: Path, options: dict | None = None, *, personal: frozenset[str] = frozenset(),
                  required: tuple[str, ...] = (), kind: str = "CSV", columns: bool = False) -> CsvRows:
    """Every row of a CSV file (``options``: ``encoding``; ``delimiter``, else told from the header),
    read in one pass.

    A header lacking a ``required`` column is one FormatError naming the file as not a ``kind`` file,
    before any row is read. A row of the wrong width, or one the CSV parser cannot read (a field over
    ``csv.field_size_limit()`` characters), is rejected with its line; blank lines are skipped; the
    fields of ``personal`` columns are emptied before any row is kept or rejected.

    Parameters
    ----------
    path : the file (``.gz`` read through).
    options : ``encoding`` and ``delimiter``, when named.
    personal : lower-case names of columns never read (stop-and-search's gender, age, ethnicity).
    required : header names the file must have.
    kind : what the file should be, for the message when a required column is missing.
    columns : allow the result as text columns (``CsvRows.columns``) read by Arrow, when the file
        is clean UTF-8 (:mod:`hotspots.core.arrow_csv`); otherwise, and by default, as ``rows``.

    Returns
    -------
    CsvRows
    """
    options = options or {}
    with open_text(path, options.get("encoding")) as handle:
        try:
            first = handle.readline()
        except UnicodeError:
            raise decoding_error(path, check_encoding(options.get("encoding"))) from None
        header, delimiter = _header_of(path, first, options)
        if not header or header == [""]:
            raise FormatError(f"{path.name}: empty file, no header")
        missing = [col for col in required if col not in header]
        if missing:
            raise FormatError(f"{path.name}: not a {kind} file: missing column(s) {', '.join(map(repr, missing))}; "
                              f"it has {', '.join(map(repr, header[:15]))}")
        if delimiter != ",":
            log.info("%s: fields separated by %s", path.name, DELIMITERS[delimiter])
        blank = [i for i, h in enumerate(header) if h.lower() in personal]
        width = len(header)
        out = CsvRows(header=header, rows=[], lines=[], delimiter=delimiter)
        if columns and check_encoding(options.get("encoding")) == "utf-8-sig":
            out.columns = read_clean_csv(path, delimiter, width, blank)
            if out.columns is not None:
                out.lines = out.columns.lines
                return out
        reader = csv.reader(handle, delimiter=delimiter)
        line = 1  # the header's
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the parser drops the rest of that line and carries on
                start_line, line = line + 1, reader.line_num + 1
                too_long = "field larger than field limit" in str(exc)
                out.rejected.append((start_line, f"a field is over {csv.field_size_limit():,} characters"
                                     if too_long else f"unreadable row ({exc})", "(not kept: the row could not be read)"))
                continue
            except UnicodeError:
                raise decoding_error(path, check_encoding(options.get("encoding"))) from None
            start_line, line = line + 1, reader.line_num + 1  # line_num counts from after the header
            for i in blank:
                if i < len(row):
                    row[i] = ""
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                out.rejected.append((start_line, f"expected {width} fields, found {len(row)}", csv_line(row)))
                continue
            out.rows.append(row)
            out.lines.append(start_line)
    return out
