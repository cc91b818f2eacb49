"""The store itself: migrations match the tables, settings are recorded, URLs are checked."""

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from hotspots.core.errors import HotspotsError
from hotspots.store import open_store
from hotspots.store.schema import load_batches, metadata


def test_migrations_build_exactly_the_declared_tables(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_opening_twice_is_harmless_and_times_come_back_aware(store_url):
    first = open_store(store_url)
    when = dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with first.engine.begin() as conn:
        conn.execute(load_batches.insert().values(
            source_file="f", sha256="0" * 64, reader="r", loaded_at=when, rows_read=0, rows_loaded=0,
            rows_already_stored=0, rows_rejected=0, warnings="[]"))
    second = open_store(store_url)
    with second.engine.connect() as conn:
        got = conn.execute(select(load_batches.c.loaded_at)).scalar()
    assert got == when and got.utcoffset() == dt.timedelta(0)
    first.dispose()
    second.dispose()


def test_sqlite_uses_wal(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.dispose()


@pytest.mark.parametrize("url", ["nonsense://", "not a url"])
def test_bad_urls(url):
    with pytest.raises(HotspotsError, match="database_url"):
        open_store(url)
