"""The serving process's principal reader: answers without a round trip, and never outlives a revocation."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from hotspots.store import open_store
from hotspots.store.principals import UNKNOWN, PrincipalReader
from hotspots.store.tokens import add_token, revoke_token

#: The tests that need PostgreSQL's listener run on it alone.
on_postgres = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)


def _until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def reader(store):
    """A PostgreSQL store's reader, once it is listening."""
    r = PrincipalReader(store)
    assert _until(lambda: r.listening), "the reader never started listening for token changes"
    yield r
    r.close()


def test_sqlite_reads_each_token_at_once_and_sees_a_revocation_immediately(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(url)
    token = add_token(store, "ladywood-inspector", "commander", actor="test")
    reader = PrincipalReader(store)
    try:
        principal = reader.lookup(token)
        assert principal.name == "ladywood-inspector" and principal.role == "commander" and principal.npus == ()
        assert reader.lookup("hs_not-a-token") is None
        other = open_store(url)  # another process's connection, as the CLI's would be
        revoke_token(other, "ladywood-inspector", actor="test")
        other.dispose()
        assert reader.lookup(token) is None and reader.load(token) is None
    finally:
        reader.close()
        store.dispose()


def test_an_in_memory_sqlite_store_is_read_through_the_pool():
    store = open_store("sqlite://")
    token = add_token(store, "tasking-board", "tasking", actor="test")
    reader = PrincipalReader(store)
    assert reader.lookup(token) is UNKNOWN
    assert reader.load(token).role == "tasking"
    reader.close()
    store.dispose()


@on_postgres
def test_postgres_keeps_principals_until_a_change_is_announced(store, store_url, reader):
    token = add_token(store, "ladywood-inspector", "commander", actor="test")
    spare = add_token(store, "perry-barr-inspector", "commander", actor="test")
    assert reader.lookup(token) is UNKNOWN  # not read yet
    assert reader.load(token).name == "ladywood-inspector" and reader.load(spare) is not None
    assert reader.lookup(token).name == "ladywood-inspector"  # kept: no read needed
    other = open_store(store_url)
    try:
        revoke_token(other, "ladywood-inspector", actor="test")  # another process's revocation
        assert _until(lambda: reader.lookup(token) is UNKNOWN, 2.0), "the revocation was not heard"
        assert reader.load(token) is None and reader.lookup(token) is UNKNOWN  # refused, and not kept
        # A change made by hand, not through the code that revokes, is announced by the table's trigger.
        assert reader.load(spare) is not None and reader.lookup(spare) is not UNKNOWN
        with other.engine.begin() as conn:
            conn.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE name = 'perry-barr-inspector'"))
        assert _until(lambda: reader.lookup(spare) is UNKNOWN, 2.0)
        assert reader.load(spare) is None
    finally:
        other.dispose()


@on_postgres
def test_postgres_keeps_nothing_read_before_a_change_it_heard_during_the_read(store, reader, monkeypatch):
    import hotspots.store.principals as principals

    token = add_token(store, "tasking-board", "tasking", actor="test")
    read = principals.principal_for

    def read_then_hear_a_change(*args):
        found = read(*args)
        reader._forget(listening=True)  # a notification handled between the read and the keeping
        return found

    monkeypatch.setattr(principals, "principal_for", read_then_hear_a_change)
    assert reader.load(token).role == "tasking"
    assert reader.lookup(token) is UNKNOWN


@on_postgres
def test_postgres_keeps_nothing_while_not_listening_and_listens_again(store, reader):
    token = add_token(store, "tasking-board", "tasking", actor="test")
    reader.load(token)
    assert reader.lookup(token) is not UNKNOWN
    with store.engine.connect() as conn:  # the server drops the listening connection, as on a restart
        ended = conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": reader._listener_pid}).scalar()
    assert ended
    assert _until(lambda: reader.lookup(token) is UNKNOWN, 5.0)  # forgotten once the loss is noticed
    assert _until(lambda: reader.listening, 10.0), "the reader did not listen again"
    reader.load(token)
    assert reader.lookup(token).role == "tasking"
