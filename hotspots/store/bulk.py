"""Fast, idempotent bulk inserts inside the caller's transaction.

SQLite: ``INSERT OR IGNORE`` through the driver's ``executemany``. PostgreSQL: ``COPY`` into
a temporary table, then one ``INSERT ... ON CONFLICT DO NOTHING``. Both skip incidents whose
id is already stored, so re-loading a file, or a later file that repeats a crime, adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from hotspots.store.schema import incidents

CHUNK_ROWS = 100_000
_STORED_COLUMNS = [c.name for c in incidents.columns]
INCIDENT_COLUMNS = [c for c in _STORED_COLUMNS if c != "batch_id"]
_TIME_COLUMNS = ("occurred_from", "occurred_to")
_BOOL_COLUMNS = ("knife_enabled", "victim_under_25")


def _column_values(frame: pd.DataFrame, name: str, dialect: str) -> list:
    col = frame[name]
    if name in _TIME_COLUMNS:
        # numpy formats datetimes in C, far faster than strftime; "T" becomes the space that
        # SQLAlchemy's SQLite DateTime reads back, and PostgreSQL gets an explicit UTC offset.
        utc = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        text = np.char.replace(np.datetime_as_string(utc, unit="us"), "T", " ")
        return (text if dialect == "sqlite" else np.char.add(text, "+00")).tolist()
    if name in _BOOL_COLUMNS:
        return [None if v is None or v is pd.NA else bool(v) for v in col.tolist()]
    if col.dtype.kind == "f":
        return [None if v != v else v for v in col.tolist()]
    if col.dtype.kind in "iu":
        return col.astype(np.int64).tolist()
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in col.tolist()]


def _row_chunks(frame: pd.DataFrame, batch_id: int, dialect: str) -> Iterator[list[tuple]]:
    for lo in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[lo : lo + CHUNK_ROWS]
        columns = [
            [batch_id] * len(part) if c == "batch_id" else _column_values(part, c, dialect) for c in _STORED_COLUMNS
        ]
        yield list(zip(*columns, strict=True))


def insert_incidents(
    conn: Connection, frame: pd.DataFrame, batch_id: int, progress: Callable[[int], None] | None = None
) -> None:
    """Insert normalised incidents for ``batch_id``, skipping ids already stored."""
    if frame.empty:
        return
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    names = ", ".join(_STORED_COLUMNS)
    if dialect == "sqlite":
        sql = f"INSERT OR IGNORE INTO incidents ({names}) VALUES ({', '.join('?' * len(_STORED_COLUMNS))})"
        cursor = raw.cursor()
        for rows in _row_chunks(frame, batch_id, dialect):
            cursor.executemany(sql, rows)
            if progress:
                progress(len(rows))
        cursor.close()
    elif dialect == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE incidents_staging (LIKE incidents INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            for rows in _row_chunks(frame, batch_id, dialect):
                with cursor.copy(f"COPY incidents_staging ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if progress:
                    progress(len(rows))
            cursor.execute(
                f"INSERT INTO incidents ({names}) SELECT {names} FROM incidents_staging "
                "ON CONFLICT (incident_id) DO NOTHING"
            )
            cursor.execute("DROP TABLE incidents_staging")
    else:
        raise NotImplementedError(f"bulk insert for {dialect}")
