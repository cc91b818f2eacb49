"""``patrol_roster``: a tactical period's randomised Targeted Guardian Patrol roster for a hotspot set.

The steps, per NPU and each from its own child of the recorded seed:

1. the NPU's hotspot budget (funded hours times the hotspot share) is split among its patrolled
   hotspots by priority between a floor and a cap (``dosage.split_budget``) and rounded to visits;
2. each hotspot's visits are spread over its patrol days in proportion to the risk its profile
   puts in the hours some unit is on duty that day (``dosage.visits_by_day``);
3. visits are placed at random start times drawn from the profile, on units that can make them
   (``schedule.place_visits``).

Control hotspots (a trial arm) get no visits, on every day or on the days named. What the units
cannot fit is reported per hotspot as a shortfall, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import FormatError, ValidationError
from hotspots.geo.areas import NamedAreas
from hotspots.geo.projection import project
from hotspots.patrol.clock import PeriodClock
from hotspots.patrol.dosage import split_budget, visits_by_day
from hotspots.patrol.resources import PatrolResources
from hotspots.patrol.schedule import UnitTimeline, base_minutes, place_visits, travel_minutes

log = logging.getLogger(__name__)

VISIT_MINUTES_RANGE = (10, 20)  # the Koper curve: 10 to 16 minutes deter longest; 20 at most
ARMS = ("treatment", "control")
VISIT_COLUMNS = ["visit_no", "date", "start", "end", "unit", "npu", "mode", "hotspot_id", "hotspot_name",
                 "centroid_lon", "centroid_lat", "visit_minutes", "travel_minutes", "starts_at", "ends_at"]
DOSAGE_COLUMNS = ["hotspot_id", "hotspot_name", "npu", "arm", "priority", "patrol_days", "target_minutes",
                  "planned_minutes", "visits", "shortfall_minutes", "shortfall_share"]


@dataclass
class Roster:
    """A planned roster.

    visits : VISIT_COLUMNS, one row per visit in time order; ``date``, ``start``, ``end`` are local
        (YYYY-MM-DD, HH:MM), ``starts_at``/``ends_at`` UTC instants.
    dosage : DOSAGE_COLUMNS, one row per hotspot: minutes planned against the target.
    units : npu, unit, mode, shift_hours, visits, visit_minutes, travel_minutes.
    npus : npu, funded_hours, hotspot_budget_minutes, target_minutes, planned_minutes, travel_minutes,
        discretionary_hours_left.
    parameters : every input and automatic choice, the seed included.
    warnings : sentences for the tasking board (shortfalls, hotspots without units, ...).
    issue : once issued: roster_id, version, set_id, issued_by, created_at, reason, fingerprint.
    """

    visits: pd.DataFrame
    dosage: pd.DataFrame
    units: pd.DataFrame
    npus: pd.DataFrame
    parameters: dict
    warnings: list[str] = field(default_factory=list)
    issue: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the visits and parameters: two rosters with the same fingerprint are the same roster."""
        h = hashlib.sha256(json.dumps(self.parameters, sort_keys=True, default=str).encode())
        h.update(self.visits[["unit", "hotspot_id", "starts_at", "ends_at"]].astype(str).to_csv(index=False).encode())
        return h.hexdigest()

    def summary(self) -> str:
        short = self.dosage[self.dosage["shortfall_minutes"] > 0]
        return (f"{len(self.visits)} visits by {self.visits['unit'].nunique()} units to "
                f"{self.visits['hotspot_id'].nunique()} hotspots, {self.parameters['start']} to {self.parameters['end']}"
                f"; {len(short)} hotspot(s) short of their planned dosage")


def assign_npus(hotspots: pd.DataFrame, resources: PatrolResources, npu_areas: NamedAreas | None = None) -> pd.Series:
    """The NPU that patrols each hotspot (None where no NPU of the resources covers it).

    With ``npu_areas`` the NPU whose boundary holds the hotspot's centroid; otherwise the NPU whose
    name or listed ``areas`` match the hotspot's area name; a single NPU patrols every hotspot.
    """
    names = [n.name for n in resources.npus]
    if npu_areas is not None:
        found = npu_areas.name_of(hotspots["centroid_lon"].to_numpy(), hotspots["centroid_lat"].to_numpy())
        npu = pd.Series(found, index=hotspots.index, dtype=object)
        unknown = sorted(set(npu_areas.names) - set(names))
        if unknown and not set(npu.dropna()) & set(names):
            raise ValidationError(f"npu_areas names {', '.join(unknown[:3])}, none of which is an NPU of the resources "
                                f"({', '.join(names)}); name the NPUs alike", arguments="npu_areas")
        return npu.where(npu.isin(names), None)
    if len(names) == 1:
        return pd.Series(names[0], index=hotspots.index, dtype=object)
    lookup = {n.name: n.name for n in resources.npus} | {a: n.name for n in resources.npus for a in n.areas}
    return hotspots["area_name"].map(lookup).astype(object).where(lambda s: s.notna(), None)


def read_arms(frame: pd.DataFrame, hotspot_ids: list[str], clock: PeriodClock) -> np.ndarray:
    """(n_hotspots, days) bool, True where a hotspot is a control (no targeted visits).

    ``frame`` has ``hotspot_id`` and ``arm`` (treatment or control), and optionally ``date``
    (YYYY-MM-DD) for crossover designs where the arm changes by day; without a date the arm holds
    for the whole period.
    """
    control = np.zeros((len(hotspot_ids), clock.days), bool)
    missing = {"hotspot_id", "arm"} - set(frame.columns)
    if missing:
        raise FormatError(f"arms needs columns hotspot_id and arm (and optionally date); it lacks "
                          f"{', '.join(sorted(missing))}", arguments="arms")
    index = {h: i for i, h in enumerate(hotspot_ids)}
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        hid, arm = str(row.hotspot_id), str(row.arm).strip().lower()
        if hid not in index:
            raise FormatError(f"arms line {line}: hotspot_id={hid!r} is not in the hotspot set", arguments="arms")
        if arm not in ARMS:
            raise FormatError(f"arms line {line}: arm={row.arm!r} is not known; use one of: {', '.join(ARMS)}",
                              arguments="arms")
        date = getattr(row, "date", None)
        if date is None or (isinstance(date, float) and np.isnan(date)) or str(date).strip() == "":
            control[index[hid], :] = arm == "control"
            continue
        try:
            day = (dt.date.fromisoformat(str(date).strip()) - clock.start).days
        except ValueError:
            raise FormatError(f"arms line {line}: date={date!r} is not a date; use YYYY-MM-DD", arguments="arms") from None
        if 0 <= day < clock.days:
            control[index[hid], day] = arm == "control"
    return control


def patrol_roster(
    hotspots: pd.DataFrame,
    resources: PatrolResources,
    profiles: np.ndarray,
    priority: np.ndarray,
    *,
    start: dt.date,
    days: int = 28,
    timezone: str = "Europe/London",
    crs: str = "EPSG:27700",
    seed: int,
    visit_minutes: int = 15,
    min_gap_minutes: int = 60,
    visits_per_day: int = 3,
    floor_minutes_per_day: float | None = None,
    control: np.ndarray | None = None,
    step_minutes: int = 5,
) -> Roster:
    """Plan the roster.

    Parameters
    ----------
    hotspots : hotspot_id, name, npu (from ``assign_npus``), centroid_lon, centroid_lat; n rows.
    resources : the NPUs' funded hours and units.
    profiles : (n, 168) hour-of-week risk per hotspot, rows summing to 1 (``hour_of_week_profiles``).
    priority : (n,) harm, risk or score; dosage is in proportion to it.
    start, days : the first local day of the period and its length in days (28: a tactical period).
    timezone : the force's time zone; shifts and visits are in its local clock.
    crs : projected CRS (metres) for travel distances between hotspots.
    seed : every random choice derives from it; the same inputs and seed give the same roster.
    visit_minutes : length of a visit, 10 to 20 (Koper: about 15).
    min_gap_minutes : least time between the end of one visit to a hotspot and the start of the next.
    visits_per_day : most visits a hotspot gets in a patrol day; with the visit length, the dosage cap.
    floor_minutes_per_day : least planned minutes per patrol day for every patrolled hotspot
        (default one visit a day), before the budget is split by priority.
    control : (n, days) bool, True where the hotspot is a trial control and gets no visits.
    step_minutes : start times fall on this grid of local clock minutes.

    Returns
    -------
    Roster
        The visits (one row each), the dosage per hotspot, and the warnings (caps hit, hotspots
        no NPU covers, funded hours left over).
    """
    lo, hi = VISIT_MINUTES_RANGE
    if not lo <= visit_minutes <= hi:
        raise ValidationError(f"visit_minutes={visit_minutes!r} must be {lo} to {hi} (the Koper curve: about 15 deters "
                              "longest)", arguments="visit_minutes")
    if visits_per_day < 1 or min_gap_minutes < 0:
        raise ValidationError(f"visits_per_day={visits_per_day!r} must be at least 1 and min_gap_minutes={min_gap_minutes!r} "
                              "not negative", arguments=("visits_per_day", "min_gap_minutes"))
    if not 1 <= step_minutes <= 15:
        raise ValidationError(f"step_minutes={step_minutes!r} must be 1 to 15 (start times fall on this grid)", arguments="step_minutes")
    floor_per_day = float(visit_minutes if floor_minutes_per_day is None else floor_minutes_per_day)
    clock = PeriodClock(start, days, timezone)
    n = len(hotspots)
    control = np.zeros((n, days), bool) if control is None else np.asarray(control, bool)
    profiles = np.asarray(profiles, float)
    priority = np.nan_to_num(np.asarray(priority, float), nan=0.0)
    x, y = project(hotspots["centroid_lon"].to_numpy(float), hotspots["centroid_lat"].to_numpy(float), crs)
    xy = np.column_stack([x, y])
    npu_of = hotspots["npu"].to_numpy(object)
    children = np.random.SeedSequence(seed).spawn(len(resources.npus))
    target = np.zeros(n)
    visits = np.zeros(n, np.int64)
    patrol_day_count = np.zeros(n, np.int64)
    visit_rows, unit_rows, npu_rows, warnings = [], [], [], []
    at_cap: list[tuple[str, float]] = []  # NPUs whose hotspot budget outruns what their hotspots can take
    for npu, child in zip(resources.npus, children, strict=True):
        rng = np.random.default_rng(child)
        idx = np.flatnonzero(npu_of == npu.name)
        units = list(npu.units)
        shifts = [clock.shift_intervals(u) for u in units]
        on_duty = clock.coverage(shifts)
        duty_days = np.array([on_duty[clock.day_bounds[d]:clock.day_bounds[d + 1]].any() for d in range(days)])
        patrol_days = ~control[idx] & duty_days[None, :]
        patrol_day_count[idx] = patrol_days.sum(1)
        budget = npu.funded_hours * 60 * resources.hotspot_share
        cap = visits_per_day * visit_minutes * patrol_day_count[idx]
        target[idx] = split_budget(priority[idx], floor_per_day * patrol_day_count[idx], cap, budget)
        visits[idx] = np.rint(target[idx] / visit_minutes).astype(np.int64)
        # A day weighs what the hotspot's profile puts in the minutes someone is on duty that day.
        risk_on_duty = [np.add.reduceat(profiles[h, clock.hour_of_week] * on_duty, clock.day_bounds[:-1]) for h in idx]
        day_counts = np.array([visits_by_day(visits[h], risk_on_duty[k] * patrol_days[k], visits_per_day, rng)
                               for k, h in enumerate(idx)], np.int64).reshape(len(idx), days)
        timelines = []
        for u, iv in zip(units, shifts, strict=True):
            speed = resources.speeds_kmh[u.mode]
            base = None if u.base is None else np.array(project(np.array([u.base[0]]), np.array([u.base[1]]), crs)).ravel()
            leg = resources.max_leg_minutes[u.mode]
            timelines.append(UnitTimeline(iv, travel_minutes(xy[idx], speed, resources.detour, leg),
                                          base_minutes(base, xy[idx], speed, resources.detour)))
        placement = place_visits(clock, timelines, profiles[idx], day_counts, patrol_days, length=visit_minutes,
                                 min_gap=min_gap_minutes, most_per_day=visits_per_day, step=step_minutes, rng=rng)
        travel = _travel_before(timelines)
        for (unit, h, t) in zip(placement.unit, placement.hotspot, placement.start, strict=True):
            visit_rows.append((units[unit].callsign, npu.name, units[unit].mode, idx[h], t, travel[unit][t]))
        planned_npu = 0
        for k, (u, tl, iv) in enumerate(zip(units, timelines, shifts, strict=True)):
            unit_travel = int(sum(travel[k].values()))
            unit_rows.append({"npu": npu.name, "unit": u.callsign, "mode": u.mode,
                              "shift_hours": round(float((iv[:, 1] - iv[:, 0]).sum()) / 60, 2),
                              "visits": len(tl.bookings), "visit_minutes": len(tl.bookings) * visit_minutes,
                              "travel_minutes": unit_travel})
            planned_npu += len(tl.bookings) * visit_minutes
        npu_travel = sum(r["travel_minutes"] for r in unit_rows if r["npu"] == npu.name)
        npu_rows.append({"npu": npu.name, "funded_hours": npu.funded_hours, "hotspots": len(idx),
                         "hotspot_budget_minutes": round(budget, 1), "target_minutes": round(float(target[idx].sum()), 1),
                         "planned_minutes": planned_npu, "travel_minutes": npu_travel,
                         "discretionary_hours_left": round(npu.funded_hours - (planned_npu + npu_travel) / 60, 2)})
        if npu_rows[-1]["discretionary_hours_left"] < 0:
            warnings.append(f"{npu.name}: visits and the travel between them take more than its funded hours "
                            f"({-npu_rows[-1]['discretionary_hours_left']:.1f} h over)")
        if budget > cap.sum() and len(idx):
            at_cap.append((npu.name, (budget - cap.sum()) / 60))
    if at_cap:  # one line for every NPU whose funding outruns what its hotspots can take
        hours = ", ".join(f"{name} {h:.1f}" for name, h in at_cap)
        warnings.append(f"every hotspot is at its cap of {visits_per_day} visits a day in {len(at_cap)} NPU(s), so "
                        f"{sum(h for _, h in at_cap):.1f} funded hotspot hours ({hours}) are left to discretionary "
                        "patrol; to spend them on hotspots, allow more visits a day or select more hotspots")
    orphans = hotspots.loc[pd.isna(npu_of), "hotspot_id"].tolist()
    if orphans:
        warnings.append(f"no NPU of the resources covers {', '.join(orphans)}: they get no visits; "
                        "list their area in an NPU's 'areas' or give --npu-areas")
    frame = _visit_frame(visit_rows, hotspots, clock, visit_minutes)
    planned = frame.groupby("hotspot_id").size().reindex(hotspots["hotspot_id"], fill_value=0).to_numpy() * visit_minutes
    dosage = pd.DataFrame({
        "hotspot_id": hotspots["hotspot_id"].to_numpy(), "hotspot_name": hotspots["name"].to_numpy(),
        "npu": npu_of, "arm": np.where(control.all(1), "control", np.where(control.any(1), "crossover", "treatment")),
        "priority": priority, "patrol_days": patrol_day_count, "target_minutes": np.round(target, 1),
        "planned_minutes": planned, "visits": planned // visit_minutes,
    })
    dosage = with_shortfall(dosage)
    short = dosage[dosage["shortfall_share"] > 0.05]
    if len(short):
        worst = short.sort_values("shortfall_share", ascending=False).head(5)
        warnings.append(f"{len(short)} hotspot(s) fall more than 5% short of their planned dosage, e.g. "
                        + "; ".join(f"{r.hotspot_id} {r.shortfall_minutes:.0f} of {r.target_minutes:.0f} min short"
                                    for r in worst.itertuples()) + ": add units or shift hours, or lower the dosage")
    parameters = {"seed": int(seed), "start": clock.start.isoformat(), "end": clock.end.isoformat(), "days": days,
                  "timezone": timezone, "crs": crs, "visit_minutes": visit_minutes, "min_gap_minutes": min_gap_minutes,
                  "visits_per_day": visits_per_day, "floor_minutes_per_day": floor_per_day,
                  "step_minutes": step_minutes, "hotspot_share": resources.hotspot_share}
    for w in warnings:
        log.warning("%s", w)
    return Roster(visits=frame, dosage=dosage[DOSAGE_COLUMNS], units=pd.DataFrame(unit_rows),
                  npus=pd.DataFrame(npu_rows), parameters=parameters, warnings=warnings)


def with_shortfall(dosage: pd.DataFrame) -> pd.DataFrame:
    """``dosage`` with shortfall_minutes (target minus planned, never below 0) and shortfall_share of the target."""
    target = dosage["target_minutes"]
    short = np.round(np.maximum(target - dosage["planned_minutes"], 0), 1)
    return dosage.assign(shortfall_minutes=short, shortfall_share=np.where(target > 0, short / target.clip(lower=1e-9), 0.0))


def _travel_before(timelines: list[UnitTimeline]) -> list[dict[int, int]]:
    """Per unit, the travel minutes before each visit (from the previous visit of the shift, or the base)."""
    out = []
    for tl in timelines:
        travel, prev_shift, prev_h = {}, -1, -1
        for s, _, h in tl.bookings:
            shift = int(np.searchsorted(tl.shifts[:, 1], s, side="right"))
            travel[s] = int(tl.from_base[h] if shift != prev_shift else tl.travel[prev_h, h])
            prev_shift, prev_h = shift, h
        out.append(travel)
    return out


def _visit_frame(rows: list, hotspots: pd.DataFrame, clock: PeriodClock, visit_minutes: int) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    unit, npu, mode, h, t, travel = map(np.asarray, zip(*rows, strict=True))
    starts = clock.instant(t.astype(np.int64))
    ends = starts + pd.Timedelta(minutes=visit_minutes)
    local_start, local_end = starts.tz_convert(clock.timezone), ends.tz_convert(clock.timezone)
    frame = pd.DataFrame({
        "date": local_start.strftime("%Y-%m-%d"), "start": local_start.strftime("%H:%M"),
        "end": local_end.strftime("%H:%M"), "unit": unit, "npu": npu, "mode": mode,
        "hotspot_id": hotspots["hotspot_id"].to_numpy()[h], "hotspot_name": hotspots["name"].to_numpy()[h],
        "centroid_lon": hotspots["centroid_lon"].to_numpy(float)[h].round(6),
        "centroid_lat": hotspots["centroid_lat"].to_numpy(float)[h].round(6),
        "visit_minutes": visit_minutes, "travel_minutes": travel.astype(np.int64),
        "starts_at": starts, "ends_at": ends,
    }).sort_values(["starts_at", "unit"], kind="stable", ignore_index=True)
    frame.insert(0, "visit_no", np.arange(1, len(frame) + 1))
    return frame[VISIT_COLUMNS]
