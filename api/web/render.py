"""Rendering the pages: Jinja2 templates (autoescaped) and the headers every page gets."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse

from api.headers import NO_STORE, WEB_CSP
from api.web.session import NAVIGATION
from hotspots.core.config import get_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = _number
    env.filters["when"] = _when
    env.filters["share"] = lambda v, digits=1: "" if _missing(v) else f"{100 * float(v):.{digits}f}%"
    return env


def page(request: Request, template: str, *, title: str, status: int = 200, for_role: str = "",
         **context) -> HTMLResponse:
    """A page: the template with the signed-in session (if any), its navigation, and whom it is for
    (``for_role``); never cached."""
    session = getattr(request.state, "session", None)
    role = session.principal.role if session else None
    navigation = [(href, label) for href, label, roles in NAVIGATION if role == "admin" or role in roles]
    body = environment().get_template(template).render(
        title=title, session=session, navigation=navigation, path=request.url.path, for_role=for_role,
        **context)
    return HTMLResponse(body, status_code=status, headers={**NO_STORE, "Content-Security-Policy": WEB_CSP})


def _missing(value) -> bool:
    """None, NaN or NaT (what a data frame row holds where nothing is known)."""
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _number(value, digits: int = 0) -> str:
    if _missing(value):
        return ""
    return f"{float(value):,.{digits}f}" if digits or not float(value).is_integer() else f"{int(value):,}"


def _when(value) -> str:
    """A stored UTC time in the service's local zone, to the minute."""
    if _missing(value):
        return ""
    if isinstance(value, str):  # records read back from JSON keep their times as ISO text
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M %Z")
    return str(value)
