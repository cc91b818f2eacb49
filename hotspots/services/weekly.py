"""The commander's weekly job: select a period's hotspots and store the set, draw its map, keep
engagement plans.

``select_hotspots`` picks the period (by default the one after the latest incident), finds the
previous set (ids, hysteresis and changes follow it), scores and selects with the engine, and
stores the set with the score of every cell it was chosen from, so a map later reads that
surface instead of recomputing it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import shapely

from hotspots.core.config import get_settings
from hotspots.core.errors import ValidationError
from hotspots.core.filecache import ArrayFileCache
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import Area, NamedAreas
from hotspots.geo.periods import Calendar
from hotspots.places.coverage import coverage_sentence
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED
from hotspots.places.gistar import DEFAULT_PERMUTATIONS
from hotspots.places.selection import DEFAULT_AREA_SHARE, DEFAULT_MAX_HOTSPOTS, HOTSPOT_COLUMNS, HotspotSet, id_number
from hotspots.places.weekly import (
    DEFAULT_BANDWIDTH_M,
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_HYSTERESIS,
    DEFAULT_MAX_CELLS,
    DEFAULT_MIN_CELLS,
    DEFAULT_SMOOTH_M,
    MapContext,
    WeeklyHotspots,
    map_context,
    weekly_hotspots,
)
from hotspots.services.access import check_may_change_plan, visible_to
from hotspots.services.engagement import hotspot_flags, plans_with_flags
from hotspots.services.ingest import stored_incidents
from hotspots.store import hotspot_sets as stored_sets
from hotspots.store.audit import record
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import MEASURE_COLUMNS, engagement, set_engagement, set_scores_of
from hotspots.store.incidents import projected_crs
from maps.weekly import weekly_map


def save_set(store: Store, hs: HotspotSet, *, period_label: str, period_start: dt.date, period_end: dt.date,
             resolution: int, score_source: str, coverage: pd.DataFrame, scores: pd.Series | None = None) -> int:
    """Store ``hs`` as the next version of its period (with the ``scores`` it was chosen from, if given).

    Parameters
    ----------
    store : where the set is stored.
    hs : the selected set; its ``parameters`` gain ``set_id``.
    period_label, period_start, period_end : the period the set is for (end inclusive).
    resolution : H3 resolution of the cells. score_source : what scored the cells, in words.
    coverage : the coverage table of the last complete period.
    scores : score per cell (hex index) the set was chosen from; kept so maps read the same surface.

    Returns
    -------
    int
        The set id.
    """
    set_id = stored_sets.save_set(
        store, hs.hotspots, hs.members, region_area_m2=hs.region_area_m2, dropped=hs.dropped,
        parameters=hs.parameters, period_label=period_label, period_start=period_start, period_end=period_end,
        resolution=resolution, score_source=score_source, coverage=coverage, scores=scores)
    hs.parameters["set_id"] = set_id
    return set_id


def load_set(store: Store, set_id: int | None = None, period_label: str | None = None) -> HotspotSet:
    """A stored set by id, or the latest version for a period, or the latest of all."""
    got = stored_sets.load_set(store, set_id, period_label)
    return HotspotSet(hotspots=got.hotspots[HOTSPOT_COLUMNS + MEASURE_COLUMNS], members=got.members,
                      region_area_m2=got.region_area_m2, dropped=got.dropped, parameters=got.parameters)


def next_hotspot_number(store: Store, before: dt.date | None = None) -> int:
    """Number of the next new hotspot id: one past every id used by a set of a period starting before
    ``before`` (default: every stored set).

    Another version of the same period does not count: a re-run of a week with the same inputs
    mints the same new ids as its first run did, and the new version replaces it.
    """
    if before is None:
        used = stored_sets.hotspot_ids(store)
    else:
        sets = stored_sets.list_sets(store)
        earlier = sets[pd.to_datetime(sets["period_start"]).dt.date < before]
        used = stored_sets.hotspot_ids(store, earlier["set_id"].astype(int).tolist())
    return max((id_number(i) for i in used), default=0) + 1


def previous_set(store: Store, start: dt.date, kind: str | None = None) -> HotspotSet | None:
    """Last period's set: the latest version of the latest period starting before ``start`` (of
    ``kind`` periods, week, tactical or month, when given: a month's set does not follow a week's).
    Ids, hysteresis and changes follow it; another version of the same period is not its predecessor."""
    sets = stored_sets.list_sets(store)
    earlier = sets[pd.to_datetime(sets["period_start"]).dt.date < start]
    seen: set[str] = set()
    for row in earlier.itertuples(index=False):
        if row.period_label in seen:
            continue  # an older version of a period already looked at
        seen.add(row.period_label)
        candidate = load_set(store, int(row.set_id))
        if kind is None or candidate.parameters.get("period_kind", "week") == kind:
            return candidate
    return None


def set_calendar(period_kind: str, anchor: dt.date | None = None) -> Calendar:
    """The configured calendar of ``period_kind`` periods (week, tactical or month)."""
    s = get_settings()
    return Calendar(period_kind, anchor or s.period_anchor, s.period_days, s.timezone)


@dataclass
class Selection:
    """A selected and stored set: the engine's result, its set_id and the set it follows."""

    weekly: WeeklyHotspots
    set_id: int
    previous: HotspotSet | None
    resolution: int


def select_hotspots(store: Store, region: Area, calendar: Calendar, *, day: dt.date | None = None,
                    resolution: int = 10, scores: pd.Series | None = None, score_source: str = "",
                    offence_groups: list[str] | None = None, bandwidth_m: float = DEFAULT_BANDWIDTH_M,
                    weight: str = "count", history_days: int = DEFAULT_HISTORY_DAYS,
                    half_life_days: float = DEFAULT_HALF_LIFE_DAYS, area_share: float = DEFAULT_AREA_SHARE,
                    max_hotspots: int = DEFAULT_MAX_HOTSPOTS, min_cells: int = DEFAULT_MIN_CELLS,
                    max_cells: int = DEFAULT_MAX_CELLS, npus: NamedAreas | None = None, npu_min: int | None = None,
                    npu_max: int | None = None, hysteresis: float = DEFAULT_HYSTERESIS,
                    smooth_m: float = DEFAULT_SMOOTH_M, permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
                    names: NamedAreas | None = None, evidence: str = DEFAULT_FLOOR_RULE, fdr: float = DEFAULT_FDR,
                    min_expected: float = DEFAULT_MIN_EXPECTED) -> Selection:
    """Select the hotspots of the period holding ``day`` (default: the period after the latest
    incident) from the stored incidents before it, and store the set.

    Parameters
    ----------
    region : the force area; its cells at ``resolution`` are scored and its area is the budget's base.
    calendar : the periods (week, tactical, month) to select in.
    scores : a score per H3 cell (text ids), e.g. the predictor's risk; ``score_source`` says what it is.
        Default: a kernel density of ``history_days`` before the period, ``bandwidth_m`` metres,
        ``weight`` count or harm, halved every ``half_life_days``.
    offence_groups : the offence groups counted (default: recorded crime that patrols do not find).
    area_share, max_hotspots, min_cells, max_cells : the budgets (share of the force area; hotspots;
        cells per hotspot).
    npus, npu_min, npu_max : NPU areas and the fewest / most hotspots each NPU gets.
    hysteresis : how much more last period's cells count (0.2 = 20%).
    smooth_m : geofence smoothing in metres.
    permutations, seed : Gi* permutations per cell (0: normal approximation) and their seed.
    names : named areas (wards) to name hotspots by.
    evidence, fdr, min_expected : the evidence floor a cell must clear (gistar, expected or none)
        and its value; see :mod:`hotspots.places.evidence`.

    Returns
    -------
    Selection
    """
    if (npu_min or npu_max is not None) and npus is None:
        raise ValidationError("npu_min and npu_max need npu_areas, a boundary file of NPUs")
    incidents = stored_incidents(store, offence_groups, name="offence_group")
    # By default the period after the end of the latest incident (a month-only record ends with its month).
    latest = incidents["occurred_to"].max() - pd.Timedelta(seconds=1)
    target = calendar.period_of(day) if day else calendar.period_of(latest.to_pydatetime()) + 1
    start = calendar.bounds(target)[0].date()
    previous = previous_set(store, start, calendar.kind)
    result = weekly_hotspots(
        incidents, region.cells(resolution), calendar=calendar, period=target, resolution=resolution,
        crs=projected_crs(store), scores=scores, score_source=score_source, bandwidth_m=bandwidth_m, weight=weight,
        history_days=history_days, half_life_days=half_life_days, permutations=permutations, seed=seed,
        area_share=area_share, max_hotspots=max_hotspots, min_cells=min_cells, max_cells=max_cells, areas=npus,
        area_min=npu_min or None, area_max=npu_max, previous=previous, hysteresis=hysteresis, smooth_m=smooth_m,
        next_number=next_hotspot_number(store, before=start), names=names, evidence=evidence, fdr=fdr,
        min_expected=min_expected, gistar_cache=gistar_cache())
    hs = result.hotspot_set
    hs.parameters.update(period_kind=calendar.kind, period_days=calendar.length_days, history_days=history_days,
                         half_life_days=half_life_days, bandwidth_m=bandwidth_m, weight=weight)
    set_id = save_set(store, hs, period_label=result.period_label, period_start=result.period_start,
                      period_end=result.period_end, resolution=resolution, score_source=result.score_source,
                      coverage=result.coverage, scores=result.scores)
    return Selection(result, set_id, previous, resolution)


def gistar_cache() -> ArrayFileCache:
    """Each week's emerging-class Gi* p-values, kept between weekly jobs (``data_dir/cache/gistar``)."""
    return ArrayFileCache(get_settings().data_dir / "cache" / "gistar")


def selection_map_page(store: Store, selection: Selection, region: Area, *, areas: NamedAreas | None = None,
                       tiles: str | None = None) -> str:
    """The weekly map of a set just selected, as one self-contained HTML page.

    Parameters
    ----------
    store : the store, for last period's incidents and the engagement plans.
    selection : what :func:`select_hotspots` returned.
    region : the force area. areas : NPUs or wards drawn as context.
    tiles : a Folium tile name for when there is a network; default none (the map opens offline).

    Returns
    -------
    str
    """
    result = selection.weekly
    hs = result.hotspot_set
    return weekly_map(hs, region=region.geometry, resolution=selection.resolution, scores=result.scores,
                      incidents=result.last_period_incidents, previous=selection.previous,
                      engagement=plans_with_flags(store, hs.hotspots["hotspot_id"]), areas=areas,
                      title=f"Hotspots {result.period_label}", subtitle=result.sentence, tiles=tiles)


def set_map_page(store: Store, hs: HotspotSet, region: Area, *, offence_groups: list[str] | None = None,
                 scores: pd.Series | None = None, areas: NamedAreas | None = None, npu: str | None = None,
                 tiles: str | None = None, npus: tuple[str, ...] = ()) -> str:
    """The weekly map of a stored set: the surface stored with it (or ``scores`` given again), last
    period's incidents from the store, the previous set's dropped hotspots and the engagement plans.

    Used by ``hotspots map`` and by the API's map route.

    Parameters
    ----------
    store : the store to read.
    hs : the stored set.
    region : the force area.
    offence_groups : the incidents drawn; None for recorded crime except police-detected offences.
    scores : score per cell to draw instead of the stored surface (sets stored before scores were kept).
    areas : NPUs or wards drawn as context; with ``npu``, the map is that NPU's.
    tiles : a Folium tile name for when there is a network; default none.
    npus : for a reader limited to these NPUs, the map holds only what lies in their hotspots: the
        hotspots, last period's incidents and the surface inside them, and their dropped hotspots.

    Returns
    -------
    str
        The HTML page.
    """
    hs = visible_to(hs, npus)
    p = hs.parameters
    calendar = set_calendar(p.get("period_kind", "week"))
    if scores is None:
        stored = set_scores_of(store, p["set_id"])
        scores = stored if len(stored) else None
    if p.get("count_placement"):  # chosen from counts per area: there are no incident points to draw
        context = MapContext(scores=scores, incidents=None, sentence=coverage_sentence(len(hs.hotspots), p["coverage"]))
    else:
        incidents = stored_incidents(store, offence_groups, allow_empty=True, name="offence_group")
        context = map_context(incidents, hs, calendar, scores)
    previous = visible_to(load_set(store, p["previous_set"]), npus) if p.get("previous_set") else None
    if npus:
        context = _inside_hotspots(context, hs)
    return weekly_map(hs, region=region.geometry, resolution=p["resolution"], scores=context.scores,
                      incidents=context.incidents, previous=previous,
                      engagement=plans_with_flags(store, hs.hotspots["hotspot_id"]), areas=areas, npu=npu,
                      title=f"Hotspots {p['period_label']}" + (f", {npu}" if npu else ""),
                      subtitle=context.sentence + (f". {COUNTED_NOTE}" if p.get("count_placement") else ""),
                      tiles=tiles)


#: What the map of a set chosen from counts per area says beside it (see services.counts).
COUNTED_NOTE = "Counts known per LSOA, not per street: each LSOA's crimes are spread evenly over its cells."


def _inside_hotspots(context: MapContext, hs: HotspotSet) -> MapContext:
    """The map's incidents and surface cut to the hotspots' geofences (a reader limited to NPUs)."""
    fence = shapely.union_all(hs.hotspots["geofence"].to_numpy())
    incidents = context.incidents
    if incidents is not None and len(incidents):
        incidents = incidents[shapely.contains_xy(fence, incidents["lon"].to_numpy(), incidents["lat"].to_numpy())]
    scores = context.scores
    if scores is not None and len(scores):
        lon, lat = h3cells.cell_centres(h3cells.from_strings(scores.index.astype(str).tolist()))
        scores = scores[shapely.contains_xy(fence, lon, lat)]
    return MapContext(scores=scores, incidents=incidents, sentence=context.sentence)


def update_engagement(store: Store, hotspot_id: str, *, actor: str, npus: tuple[str, ...] = (), **change) -> dict:
    """Record a new version of a hotspot's engagement plan, audited as ``actor``; a commander limited to
    ``npus`` may change only the plans of hotspots in them (ForbiddenError otherwise).

    ``change`` holds the fields of :func:`hotspots.store.hotspot_sets.set_engagement`; the ones not
    given keep their last value. Returns the new version.
    """
    check_may_change_plan(store, hotspot_id, npus)
    saved = set_engagement(store, hotspot_id, **change)
    with store.engine.begin() as conn:
        record(conn, actor, "engagement.update", "hotspot", hotspot_id,
               {"plan_version": saved["plan_version"], "status": saved["status"]})
    return saved


@dataclass
class PeriodView:
    """What a commander reads for one stored set: the hotspots they may see with their engagement
    plans and flags, the previous set's hotspots that dropped out, the coverage table, and the plans'
    history."""

    hotspot_set: HotspotSet
    dropped: pd.DataFrame
    coverage: pd.DataFrame
    plans: pd.DataFrame
    plan_history: pd.DataFrame
    flags: pd.DataFrame

    @property
    def change(self) -> dict:
        """How many hotspots are new, continuing and dropped since the previous set."""
        status = self.hotspot_set.hotspots["status"].value_counts()
        return {"new": int(status.get("new", 0)), "continuing": int(status.get("continuing", 0)),
                "dropped": len(self.dropped)}


def period_view(store: Store, set_id: int | None, npus: tuple[str, ...] = ()) -> PeriodView:
    """The stored set ``set_id`` (default: the latest) as a commander limited to ``npus`` sees it."""
    hs = visible_to(load_set(store, set_id), npus)
    previous_id = hs.parameters.get("previous_set")
    dropped = pd.DataFrame(columns=HOTSPOT_COLUMNS)
    if previous_id:
        before = visible_to(load_set(store, previous_id), npus).hotspots
        dropped = before[~before["hotspot_id"].isin(hs.hotspots["hotspot_id"])].drop(columns=["geofence"])
    ids = hs.hotspots["hotspot_id"].tolist()
    return PeriodView(hs, dropped.reset_index(drop=True), hs.parameters["coverage"], engagement(store, ids),
                      engagement(store, ids, history=True), hotspot_flags(store, ids))
