"""Who is calling, answered without a thread hand-off or a database round trip per request.

A serving process asks for the caller's principal on every request. Asked through the connection
pool, that cost a worker thread and, on PostgreSQL, four round trips (ping, begin, select,
rollback), each waiting again for Python's lock; at 50 concurrent clients it held PostgreSQL to
759 requests a second in a 15-second trial (benchmarks/results/api.md). Each store gets the read
that suits it:

- SQLite: the token's row is read on the calling thread, through a read-only connection of this
  reader's own. An indexed read in a file on the same machine takes microseconds, and always sees
  the newest commit, so a revocation takes effect at once.
- PostgreSQL: principals are kept in memory, and the whole memory is dropped whenever the table
  changes: a trigger (migration 0013) sends NOTIFY on ``hotspots_tokens`` for any update, delete or
  truncate, from whichever process made it, and a listening thread here clears the memory when it
  arrives: at most 0.33 ms after the revoking commit returned, in 20 revocations on an idle
  machine. While that thread is not listening (starting, or its connection lost) nothing is kept,
  and every request reads the table.

Unknown and revoked tokens are never kept: each such request reads the table.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict

from hotspots.store.db import Store, sqlite_file
from hotspots.store.tokens import Principal, principal_for, principal_of, token_hash

log = logging.getLogger(__name__)

#: The NOTIFY channel of migration 0013.
TOKENS_CHANNEL = "hotspots_tokens"
#: A kept principal is read again after this long even if no change was announced: a bound on the
#: harm of a notification that never came, not the way revocations arrive.
MAX_AGE_S = 30.0
#: Principals kept at most (one per token, and a service has one token per post).
MAX_KEPT = 1024
#: How long the listener waits before connecting again after losing its connection.
RECONNECT_S = 1.0

#: What :meth:`PrincipalReader.lookup` answers when only a blocking read can tell.
UNKNOWN = object()


class PrincipalReader:
    """Token to principal for one serving process.

    :meth:`lookup` never blocks on the network and may be called on an event loop; when it answers
    ``UNKNOWN``, :meth:`load` (blocking: run it in a worker thread) reads the table.

    Parameters
    ----------
    store : the store the tokens are in.
    listen : on PostgreSQL, keep principals and listen for changes (False: read every request).
    """

    def __init__(self, store: Store, listen: bool = True):
        self._store = store
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        # Bumped by every announced change (and by each new listening connection): a read that began
        # before a change must not keep what it read.
        self._generation = 0
        self._listening = False
        self._listener_pid: int | None = None  # the listening connection's server process, for diagnostics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._local = threading.local()  # each thread its own SQLite connection
        self._opened: list[sqlite3.Connection] = []
        self._sqlite_path = sqlite_file(store)
        if store.backend == "postgresql" and listen:
            self._thread = threading.Thread(target=self._listen, name="token-changes", daemon=True)
            self._thread.start()

    @property
    def listening(self) -> bool:
        """Whether changes are being heard (PostgreSQL), so principals may be kept."""
        return self._listening

    def lookup(self, token: str):
        """The token's principal, None for an unknown or revoked token, or ``UNKNOWN`` when only
        :meth:`load` can tell. Does no network I/O."""
        digest = token_hash(token)
        if self._sqlite_path is not None:
            return self._read_sqlite(digest)
        with self._lock:
            kept = self._kept.get(digest)
            if kept is not None and self._listening and time.monotonic() - kept[1] < MAX_AGE_S:
                self._kept.move_to_end(digest)
                return kept[0]
        return UNKNOWN

    def load(self, token: str) -> Principal | None:
        """The token's principal read from the table (blocking), kept when changes are being heard."""
        generation = self._generation
        principal = principal_for(self._store, token)
        if principal is not None:
            with self._lock:
                if self._listening and generation == self._generation:
                    self._kept[token_hash(token)] = (principal, time.monotonic())
                    while len(self._kept) > MAX_KEPT:
                        self._kept.popitem(last=False)
        return principal

    def close(self) -> None:
        """Stop listening and close this reader's own connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _read_sqlite(self, digest: str):
        try:
            conn = getattr(self._local, "conn", None)
            if conn is None:
                # Autocommit (isolation_level None): each read is its own transaction and sees the
                # newest commit. No busy wait: a read that would wait is handed to load() instead.
                conn = sqlite3.connect(f"{self._sqlite_path.as_uri()}?mode=ro", uri=True, timeout=0,
                                       isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                self._local.conn = conn
                with self._lock:
                    self._opened.append(conn)
            row = conn.execute("SELECT token_id, name, role, npus FROM api_tokens "
                               "WHERE token_sha256 = ? AND revoked_at IS NULL", (digest,)).fetchone()
        except sqlite3.Error as exc:  # busy, or the file gone: load() reads it the usual way, with its errors
            log.debug("token read handed to the pool: %s", exc)
            return UNKNOWN
        return None if row is None else principal_of(row)

    def _forget(self, listening: bool) -> None:
        with self._lock:
            self._generation += 1
            self._kept.clear()
            self._listening = listening

    def _listen(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                # A connection of the engine's own making (same URL, search path and options), taken
                # out of its pool for good: LISTEN holds it for the life of the process.
                pooled = self._store.engine.raw_connection()
                pooled.detach()
                conn = pooled.dbapi_connection
                conn.rollback()
                conn.autocommit = True
                conn.execute(f"LISTEN {TOKENS_CHANNEL}")
                self._listener_pid = conn.info.backend_pid
                self._forget(listening=True)  # anything kept before now may predate a change not heard
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=1.0):
                        self._forget(listening=True)
            except Exception as exc:  # any failure: keep nothing until listening again
                self._forget(listening=False)
                if not self._stop.is_set():
                    log.warning("not hearing token changes (%s); reading each token until reconnected",
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                    self._stop.wait(RECONNECT_S)
            finally:
                self._forget(listening=False)
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # closing a connection the server already dropped
                        pass

