"""Settings, read from ``HOTSPOTS_*`` environment variables when first asked for.

Nothing is read at import time: :func:`get_settings` builds the settings lazily and caches
them; tests call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Shipped data: small real samples and reference tables, next to the packages.
SHIPPED_DATA = Path(__file__).resolve().parents[2] / "data"
DEFAULT_FORCE_AREA = SHIPPED_DATA / "boundaries" / "west_midlands_force_area.gpkg"
DEFAULT_NAMED_AREAS = SHIPPED_DATA / "boundaries" / "birmingham_wards_2016.geojson"


class Settings(BaseSettings):
    """Service-wide settings.

    Attributes
    ----------
    database_url : SQLAlchemy URL of the store; empty means SQLite in ``data_dir``.
    data_dir : where the embedded store, rejects files and outputs live.
    timezone : IANA zone that local times (and data.police.uk months) are read in.
    period_anchor : first day of a tactical period; periods run every ``period_days`` from it.
    period_days : length of a tactical period in days.
    h3_resolution : the cell size incidents are indexed at (7 to 11).
    force_area : boundary file of the force area; points outside it are rejected. ``none`` disables.
    npu_areas : boundary file of the NPUs that commanders' tokens name (the file given to
        ``select --npu-areas``); with it, a commander limited to NPUs reads forecasts for the cells
        in them. Empty: such a commander is refused forecasts, which cover the whole force.
    npu_field : the column of ``npu_areas`` that names the NPUs; empty: guessed from the file.
    engagement_grace_days : days a newly designated hotspot has to get an agreed engagement plan
        before it is flagged.
    projected_crs : metric CRS for distances; ``auto`` picks British National Grid for data in
        Great Britain, else the UTM zone of the data.
    api_max_upload_mb : the API refuses request bodies (uploads) larger than this.
    api_docs : serve the OpenAPI document and its pages (``/openapi.json``, ``/docs``) without a
        token; off by default, since they map every route for anyone who can reach the service.
    api_threads : requests each server worker runs at once (its thread pool); more wait their turn
        in order. Eight, not the usual forty: threads beyond a few only contend for Python's lock,
        and at 50 clients on two cores forty gave p99 latencies three times eight's.
    web_idle_minutes : a browser session ends after this many minutes without a request.
    web_sign_in_attempts : failed sign-ins from one address within 15 minutes before further
        attempts from it are refused until the window passes.
    schedule_weekly : when the service computes each week's hotspot set on its own, as a day and a
        local time (``MON 06:00``); empty: never (the default).
    schedule_resources : patrol resources (TOML) for the roster draft the service prepares at each
        tactical period's start; empty: no drafts.
    """

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", extra="ignore")

    database_url: str = ""
    data_dir: Path = Path("hotspots-data")
    timezone: str = "Europe/London"
    period_anchor: dt.date = dt.date(2024, 1, 1)
    period_days: int = 28
    h3_resolution: int = 10
    force_area: str = str(DEFAULT_FORCE_AREA)
    npu_areas: str = ""
    npu_field: str = ""
    engagement_grace_days: int = Field(14, ge=0)
    projected_crs: str = "auto"
    api_max_upload_mb: float = 200.0
    api_docs: bool = False
    api_threads: int = Field(8, ge=1, le=256)
    web_idle_minutes: float = 30.0
    web_sign_in_attempts: int = 5
    schedule_weekly: str = ""
    schedule_resources: str = ""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotspots.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
