"""Opening the store: engine, SQLite pragmas, Alembic migrations, store-level settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.store.schema import store_meta

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the loader, and a killed process leaves the last commit intact.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
    except (ArgumentError, NoSuchModuleError):
        raise ValidationError(
            f"database_url={url!r} is not a database URL we can use; use sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Store:
    engine: Engine

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()

    def set_meta(self, conn, key: str, value: str) -> None:
        """Record a store-level setting inside the caller's transaction, once."""
        exists = conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()
        if exists is None:
            conn.execute(store_meta.insert().values(key=key, value=value))

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar())  # table names are ours

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    """Connect and migrate; an unreachable database is a user error with one clear line."""
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise NotReadyError(f"cannot open the store at {make_url(url).render_as_string(hide_password=True)}: {reason}") from None
    return Store(engine)
