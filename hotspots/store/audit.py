"""The audit log: who did what to operationally sensitive records, and when. Append-only."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import insert, select

from hotspots.store.db import Store, sqlite_file
from hotspots.store.schema import audit_log

try:
    import fcntl
except ImportError:  # not on Windows: there the writers meet on SQLite's own lock
    fcntl = None

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
    conn.execute(insert(audit_log).values(**event_row(actor, action, object_type, object_id, detail)))


def event_row(actor: str, action: str, object_type: str, object_id, detail: dict | None = None) -> dict:
    """The audit_log values of one event, stamped now.

    Parameters
    ----------
    actor, action, object_type, object_id, detail : as for :func:`record`.

    Returns
    -------
    dict
        The row's values.
    """
    return {"at": dt.datetime.now(dt.UTC), "actor": actor[:64], "action": action, "object_type": object_type,
            "object_id": str(object_id), "detail": json.dumps(detail or {}, sort_keys=True, default=str)}


@dataclass
class _Pending:
    row: dict
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditGroup:
    """Group commit of audit events for a serving process.

    Each caller's event goes on a queue; one writer thread takes every event waiting and writes them
    in one transaction, then wakes their callers. A caller returns only once the transaction holding
    its event has committed, and raises that transaction's error if it failed: nothing is answered
    without its event, and no event is dropped silently. While one transaction commits, the next
    requests queue, so under load one commit serves many downloads instead of each queueing for its
    own (SQLite has one writer at a time; PostgreSQL pays a WAL flush per commit).

    Parameters
    ----------
    store : the store the events are written to.
    max_batch : most events in one transaction.
    wait_s : how long a caller waits for its transaction before giving up with AuditUnavailable.
    """

    def __init__(self, store: Store, max_batch: int = 500, wait_s: float = 60.0):
        self._store, self._max, self._wait = store, max_batch, wait_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.commits = 0  # transactions written, for tests and benchmarks
        self._turns: int | None = None  # the lock file the writers take turns on (SQLite only)
        path = sqlite_file(store)
        if path is not None and fcntl is not None:
            try:
                self._turns = os.open(f"{path}-audit.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder: writes will fail anyway, and say so
                self._turns = None

    def record(self, actor: str, action: str, object_type: str, object_id, detail: dict | None = None) -> None:
        """Write one event; return once it is committed (or raise why it could not be).

        Parameters
        ----------
        actor, action, object_type, object_id, detail : as for :func:`record`.
        """
        pending = _Pending(event_row(actor, action, object_type, object_id, detail))
        self._start()
        self._queue.put(pending)
        if not pending.done.wait(self._wait):
            raise AuditUnavailable(f"the audit log did not commit within {self._wait:.0f} s")
        if pending.error is not None:
            raise pending.error

    def waiting(self) -> int:
        """Events queued and not yet taken by the writer."""
        return self._queue.qsize()

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=self._wait)
                self._thread = None
            if self._turns is not None:
                os.close(self._turns)
                self._turns = None

    @contextmanager
    def _writers_in_turn(self):
        """On a SQLite file, the group-commit writers of all the server's processes take turns on a
        lock file. Without it they met on SQLite's write lock, whose busy handler sleeps 1, 2, 5, 10,
        15, 20, 25 ms ... between tries: under load, commits of a few rows took 34, 54, 79, 104 and
        234 ms, just over those sums. A process waiting on the lock file wakes as soon as the other lets go."""
        if self._turns is None:
            yield
            return
        fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turns, fcntl.LOCK_UN)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                with self._writers_in_turn(), self._store.engine.begin() as conn:
                    conn.execute(insert(audit_log), [p.row for p in batch])
                self.commits += 1
            except Exception as exc:  # handed to every caller in the batch, which re-raises it
                for p in batch:
                    p.error = exc
            for p in batch:
                p.done.set()
            if stop:
                return


class AuditUnavailable(RuntimeError):
    """The audit log could not take an event in time: the act it records must not go ahead."""


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
