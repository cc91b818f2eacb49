"""Browser sessions: a random cookie value, stored only as its SHA-256 hash, tied to an API token.

A session ends when its holder signs out (server-side: the cookie stops working at once), when it
has been idle longer than the service allows, or when its token is revoked. Sign-ins and failed
sign-ins are audit events; the failures are what sign-in throttling counts, so every worker of the
service sees the same count.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.schema import api_tokens, audit_log, web_sessions
from hotspots.store.tokens import Principal, principal_of, token_hash

#: last_seen_at is written at most this often per session: a page view is not a database write.
_TOUCH_EVERY = dt.timedelta(seconds=60)
SIGN_IN_FAILED = "web.sign_in_failed"


@dataclass(frozen=True)
class Session:
    """A live session: who holds it and the token its forms must carry."""

    session_id: int
    principal: Principal
    csrf_token: str


def start_session(store: Store, principal: Principal, client: str) -> str:
    """A new session for ``principal`` (audited as a sign-in from ``client``); returns the cookie value."""
    cookie = secrets.token_urlsafe(32)
    now = _now()
    with store.engine.begin() as conn:
        session_id = conn.execute(insert(web_sessions).values(
            session_sha256=token_hash(cookie), token_id=principal.token_id, csrf_token=secrets.token_urlsafe(32),
            created_at=now, last_seen_at=now)).inserted_primary_key[0]
        audit.record(conn, principal.actor, "web.sign_in", "session", session_id, {"client": client})
    return cookie


def live_session(store: Store, cookie: str, idle: dt.timedelta) -> Session | None:
    """The session of ``cookie`` if it is live: not signed out, not idle past ``idle``, its token not revoked."""
    now = _now()
    with store.engine.connect() as conn:
        row = conn.execute(
            select(web_sessions.c.session_id, web_sessions.c.csrf_token, web_sessions.c.last_seen_at, api_tokens)
            .join(api_tokens, api_tokens.c.token_id == web_sessions.c.token_id)
            .where(web_sessions.c.session_sha256 == token_hash(cookie), web_sessions.c.ended_at.is_(None),
                   api_tokens.c.revoked_at.is_(None))).mappings().first()
    if row is None or now - row["last_seen_at"] > idle:
        return None
    if now - row["last_seen_at"] > _TOUCH_EVERY:
        with store.engine.begin() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.session_id == row["session_id"])
                         .values(last_seen_at=now))
    return Session(row["session_id"], principal_of(row), row["csrf_token"])


def end_session(store: Store, session: Session) -> None:
    """Sign out: the session stops working at once, whoever holds a copy of the cookie."""
    with store.engine.begin() as conn:
        conn.execute(update(web_sessions).where(web_sessions.c.session_id == session.session_id)
                     .values(ended_at=_now()))
        audit.record(conn, session.principal.actor, "web.sign_out", "session", session.session_id)


def record_failed_sign_in(store: Store, client: str, name: str) -> None:
    """Audit a refused sign-in from ``client``; the name typed is kept only if it is a known token name."""
    with store.engine.begin() as conn:
        known = conn.execute(select(api_tokens.c.token_id).where(api_tokens.c.name == name)).scalar() is not None
        audit.record(conn, "web:anonymous", SIGN_IN_FAILED, "client", client, {"name": name if known else ""})


def recent_failures(store: Store, client: str, window: dt.timedelta) -> int:
    """Refused sign-ins from ``client`` in the last ``window``."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == SIGN_IN_FAILED, audit_log.c.object_id == client,
            audit_log.c.at >= _now() - window)).scalar_one()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
