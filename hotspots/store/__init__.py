"""The store: SQLite (WAL) by default, PostgreSQL in production; schema managed by Alembic."""

from hotspots.store.db import Store, open_store

__all__ = ["Store", "open_store"]
