"""What a reader limited to NPUs may see: one rule, applied here for every front end.

A commander's token may carry NPU names (``hotspots users add --npu``); every other role reads the
whole force. For a limited reader:

- a hotspot set holds only the hotspots placed in their NPUs (a hotspot's ``area_name``), and so do
  its per-hotspot coverage rows, its map and the previous set's dropped hotspots (the set's
  force-wide coverage shares are aggregates and stay whole);
- the map's incidents and risk surface are cut to those hotspots' geofences (``services.weekly``);
- engagement plans are those of hotspots any stored set placed in their NPUs, and only those may be
  changed;
- forecasts hold only the cells whose centre lies in their NPUs, ranked among themselves; the
  service needs the NPU boundaries for that (``HOTSPOTS_NPU_AREAS``) and refuses a limited reader a
  force-wide forecast without them.

Rosters, trials, models and the audit log are not open to commanders at all (``api.deps``).
"""

from __future__ import annotations

import pandas as pd

from hotspots.core.errors import ForbiddenError
from hotspots.geo.areas import NamedAreas
from hotspots.places.selection import HotspotSet
from hotspots.store import hotspot_sets as stored_sets
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import engagement


def visible_to(hs: HotspotSet, npus: tuple[str, ...]) -> HotspotSet:
    """The set as a reader limited to ``npus`` may see it (every hotspot when ``npus`` is empty)."""
    if not npus:
        return hs
    keep = hs.hotspots["area_name"].isin(npus)
    hs.hotspots = hs.hotspots[keep].reset_index(drop=True)
    hs.members = hs.members[hs.members["hotspot_id"].isin(hs.hotspots["hotspot_id"])].reset_index(drop=True)
    return hs


def visible_plans(store: Store, npus: tuple[str, ...] = (), hotspot_id: str | None = None) -> pd.DataFrame:
    """The current engagement plans (of one hotspot, or all) that a reader limited to ``npus`` may read:
    those of hotspots placed in their NPUs (every plan when ``npus`` is empty)."""
    ids = [hotspot_id] if hotspot_id else None
    if npus:
        allowed = stored_sets.hotspots_in_areas(store, npus)
        ids = sorted(allowed if ids is None else set(ids) & allowed)
    return engagement(store, ids)


def check_may_change_plan(store: Store, hotspot_id: str, npus: tuple[str, ...]) -> None:
    """ForbiddenError unless a reader limited to ``npus`` may change ``hotspot_id``'s plan."""
    if npus and not set(stored_sets.hotspot_areas(store, hotspot_id)) & set(npus):
        raise ForbiddenError(f"hotspot {hotspot_id!r} is outside your NPUs")


def check_may_read_cells(npus: tuple[str, ...], npu_areas: NamedAreas | None) -> None:
    """ForbiddenError for a reader limited to ``npus`` when the NPU boundaries are not known: per-cell
    tables (forecasts) cover the whole force and cannot be cut to an NPU without them."""
    if npus and npu_areas is None:
        raise ForbiddenError("forecasts cover the whole force; a commander limited to NPUs reads them only "
                             "where the service knows the NPU boundaries (set HOTSPOTS_NPU_AREAS)")


def visible_cells(table: pd.DataFrame, npus: tuple[str, ...], npu_areas: NamedAreas | None) -> pd.DataFrame:
    """The rows of a per-cell table (``lon``, ``lat``, ``rank``; highest first) a reader limited to
    ``npus`` may read: the cells whose centre lies in their NPUs, ranked 1.. among themselves.

    Raises
    ------
    ForbiddenError
        For a limited reader when the service does not know the NPU boundaries.
    """
    check_may_read_cells(npus, npu_areas)
    if not npus:
        return table
    inside = pd.Series(npu_areas.name_of(table["lon"].to_numpy(), table["lat"].to_numpy())).isin(npus).to_numpy()
    mine = table[inside].reset_index(drop=True)
    return mine.assign(rank=range(1, len(mine) + 1))
