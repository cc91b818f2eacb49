"""API tokens and their roles: made once, shown once, stored only as a SHA-256 hash.

Tokens are 32 random bytes (URL-safe text with an ``hs_`` prefix), so a plain SHA-256 is
enough to store them: there is nothing to guess, unlike a password.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import secrets
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import insert, select, update

from hotspots.core.errors import NotFoundError, ValidationError
from hotspots.core.validate import check_choice
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import known_area_names
from hotspots.store.schema import api_tokens

ROLES = ("commander", "analyst", "tasking", "evaluator", "admin")
TOKEN_COLUMNS = ["token_id", "name", "role", "npus", "created_at", "revoked_at"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name (a role or post, never a person's name), role and NPUs.

    npus : for commanders, the NPUs they may see (empty: every NPU).
    """

    token_id: int
    name: str
    role: str
    npus: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return f"api:{self.name}"[:64]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(store: Store, name: str, role: str, npus: list[str] | None = None, *, actor: str) -> str:
    """Make a token for ``name`` with ``role``; it is stored only as a hash.

    Parameters
    ----------
    store : the store.
    name : a post or team (1 to 64 characters), never a person's name.
    role : one of ROLES. npus : for a commander, the NPUs they may see (default all).
    actor : who made it, for the audit event.

    Returns
    -------
    str
        The token, which is never stored or shown again.
    """
    check_choice(role, ROLES, "role")
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError(f"name={name!r}: give 1 to 64 characters naming a post or team, e.g. 'ladywood-inspector'", arguments="name")
    if npus and role != "commander":
        raise ValidationError(f"npus={list(npus)!r}: only a commander's view is limited to NPUs; role={role!r} sees "
                              "everything its role allows", arguments="npus")
    _check_npus(store, npus or [])
    token = "hs_" + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        if conn.execute(select(api_tokens.c.token_id).where(api_tokens.c.name == name)).scalar() is not None:
            raise ValidationError(f"name={name!r} already has a token; revoke it first or choose another name", arguments="name")
        token_id = conn.execute(insert(api_tokens).values(
            name=name, role=role, npus=json.dumps(sorted(npus or [])), token_sha256=token_hash(token),
            created_at=dt.datetime.now(dt.UTC))).inserted_primary_key[0]
        audit.record(conn, actor, "token.add", "token", token_id, {"name": name, "role": role, "npus": npus or []})
    return token


def _check_npus(store: Store, npus: list[str]) -> None:
    """An NPU limit must name NPUs the stored sets know (a misspelt one would show the commander nothing).
    Before any set is stored there is nothing to check against, and any name is taken."""
    known = known_area_names(store) if npus else set()
    unknown = [n for n in npus if known and n not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known NPUs: {', '.join(sorted(known)[:12])}"
        raise ValidationError(f"npus={unknown!r}: no stored hotspot set knows {'this NPU' if len(unknown) == 1 else 'these NPUs'}; "
                              f"{hint}", arguments="npus")


def revoke_token(store: Store, name: str, *, actor: str) -> None:
    with store.engine.begin() as conn:
        row = conn.execute(select(api_tokens.c.token_id, api_tokens.c.revoked_at)
                           .where(api_tokens.c.name == name)).first()
        if row is None or row.revoked_at is not None:
            raise NotFoundError(f"name={name!r} has no live token; see 'hotspots users list'")
        conn.execute(update(api_tokens).where(api_tokens.c.token_id == row.token_id)
                     .values(revoked_at=dt.datetime.now(dt.UTC)))
        audit.record(conn, actor, "token.revoke", "token", row.token_id, {"name": name})


def list_tokens(store: Store) -> pd.DataFrame:
    with store.engine.connect() as conn:
        rows = conn.execute(select(*[api_tokens.c[c] for c in TOKEN_COLUMNS]).order_by(api_tokens.c.token_id)).all()
    return pd.DataFrame(rows, columns=TOKEN_COLUMNS)


def principal_for(store: Store, token: str) -> Principal | None:
    """The live token's principal, or None for an unknown or revoked token."""
    with store.engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_sha256 == token_hash(token),
                                                    api_tokens.c.revoked_at.is_(None))).mappings().first()
    return None if row is None else principal_of(row)


def principal_of(row) -> Principal:
    """The principal of an ``api_tokens`` row (a mapping)."""
    return Principal(token_id=row["token_id"], name=row["name"], role=row["role"], npus=tuple(json.loads(row["npus"])))
