"""Group commit of audit events: every event of concurrent requests is written, many in one
transaction, and a caller is answered only after its own event has committed (or gets the error)."""

import asyncio
import threading
import time

import httpx
from sqlalchemy import text

from hotspots.store.audit import AuditGroup, audit_events
from hotspots.store.db import Store, make_engine


def _hold_write_lock(store: Store):
    """A connection holding the audit table's write lock until released (another writer, in effect)."""
    conn = store.engine.connect()
    if store.backend == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.begin()
        conn.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
    return conn


def test_concurrent_events_share_transactions_and_none_is_lost(store):
    group = AuditGroup(store)
    lock = _hold_write_lock(store)
    answered = []

    def download(k):
        group.record(f"api:user{k}", "roster.download", "roster", 1, {"k": k})
        answered.append(k)

    first = threading.Thread(target=download, args=(0,))
    first.start()
    deadline = time.time() + 10
    while group.waiting() and time.time() < deadline:  # the writer took event 0 and waits on the lock
        time.sleep(0.01)
    rest = [threading.Thread(target=download, args=(k,)) for k in range(1, 60)]
    for t in rest:
        t.start()
    while group.waiting() < 59 and time.time() < deadline:
        time.sleep(0.01)
    assert answered == []  # nobody is answered while their event is uncommitted
    lock.rollback()
    lock.close()
    for t in [first, *rest]:
        t.join(timeout=30)
    group.close()
    assert sorted(answered) == list(range(60))
    events = audit_events(store, action="roster.download")
    assert len(events) == 60 and events["actor"].nunique() == 60
    assert group.commits == 2  # event 0 alone, then the 59 that queued behind it in one transaction


def test_writers_of_two_processes_on_one_sqlite_file_take_turns(tmp_path):
    """Each server process has its own group-commit writer; on SQLite they take turns on a lock file
    (instead of sleeping in SQLite's busy handler) and every event of both is kept."""
    from hotspots.store import open_store

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    stores = [open_store(url), open_store(url)]
    first, second = (AuditGroup(s) for s in stores)
    waiting = threading.Thread(target=second.record, args=("api:x", "roster.download", "roster", 1))
    with first._writers_in_turn():  # the first process's writer is in its transaction
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive()  # the second waits for its turn
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    threads = [threading.Thread(target=group.record, args=(f"api:{k}", "roster.download", "roster", k))
               for k in range(40) for group in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    first.close()
    second.close()
    assert len(audit_events(stores[0], action="roster.download")) == 81
    for s in stores:
        s.dispose()


def test_a_failed_transaction_fails_every_caller_in_it(tmp_path):
    broken = Store(make_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite'}"))  # no audit_log table
    group = AuditGroup(broken)
    errors = []

    def download():
        try:
            group.record("api:x", "roster.download", "roster", 1)
        except Exception as exc:  # the request would answer 500, never the file
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=download) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    group.close()
    assert errors == ["OperationalError"] * 8


def test_parallel_downloads_from_a_real_server_each_leave_one_event(store_url, store, weeks, guardian, tmp_path):
    """N parallel roster downloads against two workers: N answers, N audit rows, on both stores."""
    from test_api import _serve, _stop, fill

    tokens, _ = fill(store, weeks, guardian)
    before = len(audit_events(store, action="roster.download"))
    port, server = _serve(store_url, tmp_path)

    async def downloads(n):
        async with httpx.AsyncClient(timeout=60) as http:
            got = await asyncio.gather(*(http.get(f"http://127.0.0.1:{port}/rosters/1/download/csv",
                                                  headers={"Authorization": f"Bearer {tokens['tasking']}"})
                                         for _ in range(n)))
        return [r.status_code for r in got]

    try:
        codes = asyncio.run(downloads(40))
    finally:
        _stop(server)
    assert codes == [200] * 40
    assert len(audit_events(store, action="roster.download")) - before == 40
