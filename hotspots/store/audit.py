"""The audit log: who did what to operationally sensitive records, and when. Append-only."""

from __future__ import annotations

import datetime as dt
import getpass
import json

import pandas as pd
from sqlalchemy import insert, select

from hotspots.store.db import Store
from hotspots.store.schema import audit_log

AUDIT_COLUMNS = ["event_id", "at", "actor", "action", "object_type", "object_id", "detail"]


def local_actor() -> str:
    """The actor of a command-line action: the operating-system account that ran it."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no account name in some containers
        return "cli:unknown"


def record(conn, actor: str, action: str, object_type: str, object_id, detail: dict | None = None) -> None:
    """Append one event inside the caller's transaction, so the event and the act commit together.

    Parameters
    ----------
    conn : the open transaction's connection.
    actor : who acted: ``cli:`` and the operating-system account, or ``api:`` and the token's name.
    action : what was done (``roster.download``, ``allocation``, ...).
    object_type, object_id : what it was done to.
    detail : JSON-serialisable particulars.
    """
    conn.execute(insert(audit_log).values(at=dt.datetime.now(dt.UTC), actor=actor[:64], action=action,
                                          object_type=object_type, object_id=str(object_id),
                                          detail=json.dumps(detail or {}, sort_keys=True, default=str)))


def audit_events(store: Store, object_type: str | None = None, object_id=None, newest: int | None = None, *,
                 action: str | None = None, actor: str | None = None) -> pd.DataFrame:
    """Events in order (oldest first), optionally filtered.

    Parameters
    ----------
    store : the store.
    object_type, object_id : only events on this kind of object, or this one object.
    newest : only the newest so many.
    action, actor : only this action (``roster.download``), or this actor.

    Returns
    -------
    pandas.DataFrame
        AUDIT_COLUMNS.
    """
    query = select(audit_log).order_by(audit_log.c.event_id.desc())
    if action:
        query = query.where(audit_log.c.action == action)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if object_type is not None:
        query = query.where(audit_log.c.object_type == object_type)
    if object_id is not None:
        query = query.where(audit_log.c.object_id == str(object_id))
    if newest is not None:
        query = query.limit(newest)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows[::-1], columns=AUDIT_COLUMNS)
