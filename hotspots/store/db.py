"""Opening the store: engine, SQLite pragmas, Alembic migrations, store-level settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.store.schema import store_meta

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_PAGE_BYTES = 16_384
#: Connections each process keeps open, and how many more it may open at a busy moment.
POOL_SIZE, POOL_OVERFLOW = 20, 20


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # 16 KiB pages for a new store (an existing one keeps its own): inserting and committing a
    # million incident rows into a table with the incident-id and time indexes took 4.9 s against
    # 6.9 s with the default 4 KiB. It must come before WAL, which fixes the page size of a new file.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
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
        if parsed.get_backend_name() == "sqlite" and _plain_file(parsed.database):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # pre-ping: a pooled connection that a database restart has closed is replaced, not handed out.
        # A server worker runs up to HOTSPOTS_API_THREADS requests at once, plus its audit writer and
        # job runner; with SQLAlchemy's 5 kept connections, every request past the fifth opened a
        # connection and closed it after.
        pool = {} if parsed.database in (None, "", ":memory:") else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(parsed, pool_pre_ping=True, **pool)
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


#: Words of the drivers' messages for a store that cannot take a write or cannot be reached, and what
#: each means to the person who saw it.
_FAULTS = (
    (("readonly database", "read-only", "read only"), "the store is read-only: nothing was written; "
     "make the database writable (file permissions, or the server's read-only setting) and try again"),
    (("database or disk is full", "no space left", "could not extend file", "disk full"),
     "the store's disk is full: nothing of this was written, and what was committed before is intact; free space "
     "and try again"),
    (("connection refused", "could not connect", "server closed the connection", "terminating connection",
      "connection is closed", "the database system is starting up", "the database system is shutting down",
      "unable to open database file", "connection timeout", "ssl syscall"),
     "the store cannot be reached just now: nothing of this was written; try again shortly"),
)


def sqlite_file(store: Store) -> Path | None:
    """The SQLite store's file (None for PostgreSQL or an in-memory store)."""
    database = store.engine.url.database
    return Path(database).resolve() if store.backend == "sqlite" and _plain_file(database) else None


def _plain_file(database: str | None) -> bool:
    """Whether a SQLite URL's database is a file path: not in memory, and not a ``file:`` URI
    (``sqlite:///file:PATH?mode=ro&uri=true``, whose path is not a folder to make)."""
    return database not in (None, "", ":memory:") and not database.startswith("file:")


def store_fault(exc: BaseException) -> str | None:
    """One line saying what a database error means, when it is the store failing (unreachable, read-only,
    full) rather than a bug; None otherwise. The front ends answer these without a traceback (the API
    with 503, the CLI with exit code 2)."""
    wrapped = isinstance(exc, DBAPIError)
    if not wrapped and type(exc).__module__.split(".")[0] not in ("sqlite3", "psycopg"):
        return None  # the bulk loaders call the drivers directly, so their errors come unwrapped
    text_ = str(exc.orig if wrapped and exc.orig is not None else exc).lower()
    for words, meaning in _FAULTS:
        if any(w in text_ for w in words):
            return meaning
    return None


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
