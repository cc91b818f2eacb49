"""Storing stop and search as counts per hotspot set (never a row per search)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, insert, select

from hotspots.store.audit import record
from hotspots.store.db import Store
from hotspots.store.schema import hotspot_sets, stop_search_counts, stop_search_loads, stop_search_rejects

#: The stored count columns, less load_id.
COUNT_COLUMNS = [c.name for c in stop_search_counts.columns if c.name != "load_id"]


@dataclass
class StopSearchLoad:
    """One load of stop-and-search files for a set: its record, counts and rejected lines."""

    load_id: int
    set_id: int
    files: list[dict]
    months: list[str]
    before_days: int
    rows_read: int
    rows_rejected: int
    loaded_by: str
    loaded_at: dt.datetime
    counts: pd.DataFrame
    added: bool = True


def save_stop_search(store: Store, *, set_id: int, fingerprint: str, files: list[dict], months: list[str],
                     before_days: int, counts: pd.DataFrame, rejected: list[tuple[str, int, str]],
                     rows_read: int, loaded_by: str) -> StopSearchLoad:
    """Store one load (record, counts and rejects) in one transaction, audited; the same files for the
    same set a second time add nothing and return the stored load with ``added`` False.

    Parameters
    ----------
    store : the store.
    set_id : the hotspot set the counts are placed on.
    fingerprint : SHA-256 over the files' own digests, sorted.
    files : name, sha256 and rows of each file.
    months : the months ('YYYY-MM') the files hold.
    before_days : length of the before window.
    counts : COUNT_COLUMNS, one row per combination.
    rejected : (file name, line, reason) of every row that could not be read.
    rows_read : searches counted.
    loaded_by : who loaded them, for the audit log.

    Returns
    -------
    StopSearchLoad
    """
    with store.engine.begin() as conn:
        known = conn.execute(select(stop_search_loads.c.load_id).where(
            (stop_search_loads.c.set_id == set_id) & (stop_search_loads.c.fingerprint == fingerprint))).scalar()
        if known is not None:
            loaded = _load(conn, known)
            loaded.added = False
            return loaded
        values = {"set_id": set_id, "fingerprint": fingerprint, "files": json.dumps(files), "months": json.dumps(months),
                  "before_days": before_days, "rows_read": rows_read, "rows_rejected": len(rejected),
                  "loaded_by": loaded_by, "loaded_at": dt.datetime.now(dt.UTC)}
        load_id = conn.execute(insert(stop_search_loads).values(**values)).inserted_primary_key[0]
        rows = counts[COUNT_COLUMNS].assign(load_id=load_id).astype({"searches": int}).to_dict("records")
        if rows:
            conn.execute(insert(stop_search_counts), rows)
        if rejected:
            conn.execute(insert(stop_search_rejects), [{"load_id": load_id, "source_file": f, "line": line, "reason": why}
                                                       for f, line, why in rejected])
        record(conn, loaded_by, "stop_search.load", "hotspot_set", set_id,
               {"load_id": load_id, "files": [f["name"] for f in files], "rows_read": rows_read,
                "rows_rejected": len(rejected)})
        return _load(conn, load_id)


def latest_stop_search(store: Store, set_id: int) -> StopSearchLoad | None:
    """The newest load for a set, or None when none was loaded."""
    with store.engine.connect() as conn:
        load_id = conn.execute(select(func.max(stop_search_loads.c.load_id))
                               .where(stop_search_loads.c.set_id == set_id)).scalar()
        return None if load_id is None else _load(conn, load_id)


def stop_search_sets(store: Store) -> pd.DataFrame:
    """Sets that have stop and search loaded: set_id, period_label, period_start, period_end, load_id."""
    newest = (select(stop_search_loads.c.set_id, func.max(stop_search_loads.c.load_id).label("load_id"))
              .group_by(stop_search_loads.c.set_id).subquery())
    query = (select(hotspot_sets.c.set_id, hotspot_sets.c.period_label, hotspot_sets.c.period_start,
                    hotspot_sets.c.period_end, newest.c.load_id)
             .join(newest, newest.c.set_id == hotspot_sets.c.set_id).order_by(hotspot_sets.c.period_start))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(),
                            columns=["set_id", "period_label", "period_start", "period_end", "load_id"])


def stop_search_rejected(store: Store, load_id: int) -> pd.DataFrame:
    """The rejected rows of a load: source_file, line, reason."""
    query = (select(stop_search_rejects.c.source_file, stop_search_rejects.c.line, stop_search_rejects.c.reason)
             .where(stop_search_rejects.c.load_id == load_id)
             .order_by(stop_search_rejects.c.source_file, stop_search_rejects.c.line))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=["source_file", "line", "reason"])


def _load(conn, load_id: int) -> StopSearchLoad:
    rec = conn.execute(select(stop_search_loads).where(stop_search_loads.c.load_id == load_id)).mappings().one()
    counts = pd.DataFrame(conn.execute(select(*[stop_search_counts.c[c] for c in COUNT_COLUMNS])
                                       .where(stop_search_counts.c.load_id == load_id)).mappings().all(),
                          columns=COUNT_COLUMNS)
    return StopSearchLoad(load_id=load_id, set_id=rec["set_id"], files=json.loads(rec["files"]),
                          months=json.loads(rec["months"]), before_days=rec["before_days"], rows_read=rec["rows_read"],
                          rows_rejected=rec["rows_rejected"], loaded_by=rec["loaded_by"], loaded_at=rec["loaded_at"],
                          counts=counts.astype({"searches": "int64"}))
