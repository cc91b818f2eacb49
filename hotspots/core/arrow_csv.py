"""The fast path of :func:`hotspots.core.textfile.read_csv_rows`: Arrow's multithreaded CSV parser
with a line index, for the clean UTF-8 files force exports nearly always are.

Every row must keep the physical line it came from, which a parser that splits the file across
threads does not report. So the file is read whole, its line ends found with NumPy, and Arrow is
told that no value holds a line break: then row k of Arrow's table is the k-th non-empty line
after the header, and its number is known. Lines holding a quote are parsed once more, one line
at a time, by Python's ``csv`` module, whose reading is the careful reader's, so quoting reads the
same either way.

Anything that would need the careful reader's judgement returns None instead, and the caller
reads the file the careful way: another encoding, a NUL byte, a lone carriage return, a quoted
value running over a line end, a row of the wrong width, a field over ``csv.field_size_limit()``,
bytes that are not UTF-8, a damaged gzip stream. The result is then identical by construction;
tests/test_readers.py checks the two readers against each other on random files.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

_BOM = b"\xef\xbb\xbf"
_QUOTE, _CR, _LF = 34, 13, 10


@dataclass
class ArrowRows:
    """The rows of a clean CSV file as text columns, with the physical line each row is on."""

    lines: np.ndarray  # int64 (rows,)
    columns: list[np.ndarray]  # one object array of str per header column

    def __getitem__(self, i: int) -> list[str]:
        """Row ``i`` as read (personal fields emptied), for a rejected row's raw text."""
        return [str(col[i]) for col in self.columns]


def _file_bytes(path) -> bytes | None:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error):
        return None


def read_clean_csv(path, delimiter: str, width: int, personal: list[int]) -> ArrowRows | None:
    """Every data row of a clean UTF-8 CSV file, or None when the file needs the careful reader.

    Parameters
    ----------
    path : the file (``.gz`` read through), whose header the caller has read.
    delimiter : the field delimiter.
    width : the header's number of columns.
    personal : indices of columns never read: their values are emptied.

    Returns
    -------
    ArrowRows or None
    """
    data = _file_bytes(path)
    if data is None or b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == _LF)
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR) & (ends <= len(data) - 1))
    if length.size and length.max() > csv.field_size_limit():
        return None
    data_lines = np.flatnonzero(length[1:] > 0) + 1  # 0-based indices of non-empty lines after the header
    invalid = []
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(skip_rows=1, autogenerate_column_names=True),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=True,
                                              invalid_row_handler=lambda row: invalid.append(row) or "skip"),
            convert_options=pa_csv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width)},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if invalid or table.num_columns != width or table.num_rows != data_lines.size:
        return None
    columns = [np.full(table.num_rows, "", dtype=object) if i in personal
               else table.column(i).to_numpy(zero_copy_only=False) for i in range(width)]
    marks = np.bincount(np.searchsorted(starts, np.flatnonzero(buf == _QUOTE), side="right") - 1,
                        minlength=starts.size)
    quoted = np.flatnonzero(marks)
    if quoted.size:
        if (marks % 2).any():  # an odd number of quotes: a value runs over a line end
            return None
        rows = np.searchsorted(data_lines, quoted)
        for line, r in zip(quoted.tolist(), rows.tolist(), strict=True):
            if line == 0:
                continue
            text = data[starts[line]: starts[line] + length[line]].decode("utf-8")
            values = next(csv.reader([text], delimiter=delimiter))
            if len(values) != width:
                return None
            for i, value in enumerate(values):
                if i not in personal:
                    columns[i][r] = value
    return ArrowRows(lines=data_lines.astype(np.int64) + 1, columns=columns)
