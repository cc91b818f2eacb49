"""Shared fixtures: a fresh store on every backend, isolated settings, shipped and shared data paths."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotspots.core.config import SHIPPED_DATA, get_settings

SHARED_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
POSTGRES_URL = os.environ.get("HOTSPOTS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLES = SHIPPED_DATA / "samples"

# The synthetic year and its weekly hotspot sets are built once per session.
pytest_plugins = ["weekly_fixtures", "model_fixtures", "patrol_fixtures", "national_fixtures", "web_fixtures"]


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not reachable"; the reason is shown
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {problem}")
    return POSTGRES_URL


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own data dir and default settings."""
    for key in list(os.environ):
        if key.startswith("HOTSPOTS_") and key != "HOTSPOTS_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOTSPOTS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A URL to an empty store: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(base, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def store(store_url):
    from hotspots.store import open_store

    s = open_store(store_url)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def force_area():
    from hotspots.core.config import DEFAULT_FORCE_AREA
    from hotspots.geo.areas import Area

    return Area.from_file(DEFAULT_FORCE_AREA)
