"""The model registry's tables: versions (written once, never changed) and promotion events.

The promoted model is the one the events leave on top: a promotion pushes a version, a
rollback returns to the one promoted before. Building a version's row from a trained model
and loading its model back are :mod:`models.registry`'s; the use cases are
:mod:`hotspots.services.models`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pandas as pd
from sqlalchemy import func, select

from hotspots.core.errors import NotFoundError, NotReadyError, ValidationError
from hotspots.store.db import Store
from hotspots.store.schema import load_batches, model_events, model_versions

_LIST_COLUMNS = ["version", "created_at", "target", "period_kind", "resolution", "training_start", "training_end",
                 "forecast_start", "n_incidents", "data_fingerprint"]
_JSON_COLUMNS = ("features", "feature_config", "parameters", "metrics")


def add_version(store: Store, make_row: Callable[[int], dict]) -> int:
    """Write the next version in one transaction: ``make_row(number)`` gives its columns (the card
    names its own number); returns the version number."""
    with store.engine.begin() as conn:
        number = int(conn.execute(select(func.coalesce(func.max(model_versions.c.version), 0))).scalar()) + 1
        row = make_row(number)
        version = conn.execute(model_versions.insert().values(version=number, created_at=dt.datetime.now(dt.UTC),
                                                              **row)).inserted_primary_key[0]
    return int(version)


def list_models(store: Store) -> pd.DataFrame:
    """Every version, newest first, with a ``promoted`` flag on the one that serves."""
    with store.engine.connect() as conn:
        frame = pd.read_sql(select(*[model_versions.c[c] for c in _LIST_COLUMNS]).order_by(
            model_versions.c.version.desc()), conn)
    current = promoted_version(store)
    frame["promoted"] = frame["version"] == current
    return frame


def model_row(store: Store, version: int) -> dict:
    """A version's registry row (without the model bytes), JSON columns decoded; an unknown version
    is a NotFoundError."""
    cols = [c for c in model_versions.c if c.name != "model_blob"]
    with store.engine.connect() as conn:
        row = conn.execute(select(*cols).where(model_versions.c.version == int(version))).mappings().first()
    if row is None:
        raise NotFoundError(f"model version {version} is not in the registry; 'hotspots model list' shows them")
    out = dict(row)
    for key in _JSON_COLUMNS:
        out[key] = json.loads(out[key])
    return out


def model_blob(store: Store, version: int) -> bytes:
    """The stored bytes of a version's fitted model."""
    with store.engine.connect() as conn:
        return conn.execute(select(model_versions.c.model_blob).where(model_versions.c.version == int(version))).scalar()


def _stack(store: Store) -> list[int]:
    """Promoted versions, oldest first, as the event log leaves them."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(model_events.c.version, model_events.c.action)
                            .order_by(model_events.c.event_id)).all()
    stack: list[int] = []
    for version, action in rows:
        if action == "promote":
            stack.append(int(version))
        elif action == "rollback" and stack:
            stack.pop()
    return stack


def promoted_version(store: Store) -> int | None:
    stack = _stack(store)
    return stack[-1] if stack else None


def promote(store: Store, version: int, note: str = "") -> None:
    """Make ``version`` the model that serves forecasts."""
    row = model_row(store, version)
    if promoted_version(store) == row["version"]:
        raise ValidationError(f"model version {version} is already the promoted model")
    with store.engine.begin() as conn:
        conn.execute(model_events.insert().values(version=row["version"], action="promote",
                                                  at=dt.datetime.now(dt.UTC), note=note))


def rollback(store: Store, note: str = "") -> int:
    """Return to the model promoted before the current one; returns its version."""
    stack = _stack(store)
    if len(stack) < 2:
        raise NotReadyError("nothing to roll back to: fewer than two promotions are on record")
    with store.engine.begin() as conn:
        conn.execute(model_events.insert().values(version=stack[-1], action="rollback",
                                                  at=dt.datetime.now(dt.UTC), note=note))
    return stack[-2]


def events(store: Store) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.read_sql(select(model_events).order_by(model_events.c.event_id), conn)


def forecast_inputs_version(store: Store) -> tuple[int, int]:
    """What a forecast reads from the store, as a version: the newest incident batch and the newest
    promotion or rollback. Both only grow, so a forecast cached under them is stale exactly when
    another load or promotion has happened since, in any process."""
    with store.engine.connect() as conn:
        batch = conn.execute(select(func.max(load_batches.c.batch_id))).scalar() or 0
        event = conn.execute(select(func.max(model_events.c.event_id))).scalar() or 0
    return int(batch), int(event)
