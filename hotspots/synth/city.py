"""Generate incidents with known ground truth.

The process, all in British National Grid metres and local time:

* **Background** (immigrant) events: a uniform floor over the force area plus persistent
  hotspots, each an isotropic Gaussian bump with a heavy-tailed (Pareto) weight; the first
  hotspot sits on the city-centre night-time economy.
* **Time**: a day drawn with a summer peak (cosine, highest mid-July), then an hour of the
  week from a profile: an evening peak every day, after-school hours on weekdays, and
  Friday/Saturday night hours that are much stronger near the city centre.
* **Near repeats**: a Hawkes (ETAS-like) cascade: every event has Poisson(``branching``)
  offspring, displaced by a Gaussian of ``offspring_sd_m`` and delayed by an exponential of
  mean ``offspring_days``. The expected total is ``background / (1 - branching)``.
* **Offences** from a mix with knife-enabled and victim-under-25 shares; harm weights
  from the shipped Cambridge Crime Harm Index table.
* **Patrol effect** (optional): every event inside patrolled cells during patrolled hours
  is removed with probability ``reduction``, so the expected count there is scaled by
  exactly ``1 - reduction``; the number removed is recorded. With a ``detection_uplift``,
  police-detected offences left there gain recorded copies (patrols find what they look for).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.config import DEFAULT_FORCE_AREA
from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_fraction, check_positive
from hotspots.crime.offences import harm_weights, vocabulary
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import Area
from hotspots.geo.projection import BRITISH_NATIONAL_GRID, project, unproject

log = logging.getLogger(__name__)

CITY_CENTRE_LONLAT = (-1.8983, 52.4796)  # Birmingham, around New Street
#: offence -> (share of incidents, share knife-enabled, share with victim under 25 or None: no victim)
OFFENCE_MIX: dict[str, tuple[float, float, float | None]] = {
    "violence_with_injury": (0.22, 0.12, 0.45),
    "violence_without_injury": (0.25, 0.03, 0.35),
    "robbery_of_personal_property": (0.08, 0.30, 0.55),
    "homicide": (0.001, 0.50, 0.40),
    "possession_of_weapons": (0.04, 0.60, None),
    "public_order": (0.10, 0.0, None),
    "criminal_damage": (0.10, 0.0, None),
    "theft_from_the_person": (0.08, 0.0, 0.30),
    "shoplifting": (0.07, 0.0, None),
    "vehicle_crime": (0.059, 0.0, None),
}


@dataclass(frozen=True)
class PatrolEffect:
    """A known reduction inside patrolled places at patrolled times.

    cells : H3 cells (hex strings, any resolution 7 to 11) that are patrolled.
    hours_of_week : patrolled hours, 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00.
    reduction : share of events removed there and then (0.2 = 20% fewer).
    detection_uplift : offences that police activity detects (possession of weapons, drugs), left
        after ``reduction`` there and then, gain Poisson(``detection_uplift``) recorded copies each:
        their expected count is scaled by ``(1 - reduction) * (1 + detection_uplift)``.
    first_day, last_day : the patrols run on local days ``[first_day, last_day)`` counted from the
        city's start (None: to the end); a trial's before period is unpatrolled.
    """

    cells: tuple[str, ...]
    hours_of_week: tuple[int, ...] = tuple(range(168))
    reduction: float = 0.2
    detection_uplift: float = 0.0
    first_day: int = 0
    last_day: int | None = None


@dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic city; every default is documented in the module docstring."""

    seed: int = 0
    incidents: int = 50_000
    start: dt.date = dt.date(2024, 1, 1)
    days: int = 365
    timezone: str = "Europe/London"
    n_hotspots: int = 60
    hotspot_share: float = 0.45
    hotspot_sd_m: float = 120.0
    hotspot_pareto_shape: float = 1.2
    branching: float = 0.3
    offspring_sd_m: float = 80.0
    offspring_days: float = 4.0
    summer_amplitude: float = 0.25
    centre_radius_m: float = 1500.0
    patrol: PatrolEffect | None = None


@dataclass
class SyntheticCity:
    """Generated incidents and the truth they were drawn from."""

    params: SynthParams
    incidents: pd.DataFrame
    hotspots: pd.DataFrame
    removed_by_patrol: int = 0
    background_expected: float = 0.0
    extra: dict = field(default_factory=dict)

    def expected_background_per_cell(self, cells: np.ndarray) -> np.ndarray:
        """Expected background events per cell over the whole run (uint64 cells, shape (n,)).

        The floor share spreads evenly by area over the force area; each hotspot's share falls
        in a cell in proportion to its Gaussian density at the cell centre times the cell area.
        Offspring add ``branching / (1 - branching)`` on average, mostly near their parents.
        """
        p = self.params
        cells = np.asarray(cells, dtype=np.uint64)
        lon, lat = h3cells.cell_centres(cells)
        x, y = project(lon, lat, BRITISH_NATIONAL_GRID)
        area = h3cells.cell_areas_m2(cells)
        floor = self.background_expected * (1 - p.hotspot_share) * area / self.extra["force_area_m2"]
        hs = self.hotspots
        d2 = (x[:, None] - hs["x"].to_numpy()) ** 2 + (y[:, None] - hs["y"].to_numpy()) ** 2
        dens = np.exp(-d2 / (2 * p.hotspot_sd_m**2)) / (2 * np.pi * p.hotspot_sd_m**2)
        bumps = self.background_expected * p.hotspot_share * (dens * hs["weight"].to_numpy()).sum(axis=1) * area
        return floor + bumps


def _hour_profiles() -> tuple[np.ndarray, np.ndarray]:
    """Hour-of-week weights (168,) away from and near the city centre."""
    hour = np.arange(168) % 24
    day = np.arange(168) // 24  # 0 Monday
    base = 0.3 + np.exp(-0.5 * ((hour - 20) / 3.0) ** 2) + 0.3 * np.exp(-0.5 * ((hour - 13) / 3.0) ** 2)
    school = (day < 5) & (hour >= 15) & (hour < 18)
    general = base + 0.6 * school
    # Friday and Saturday nights: 21:00 to 03:00 the next morning.
    nte = ((day == 4) | (day == 5)) & (hour >= 21) | ((day == 5) | (day == 6)) & (hour < 3)
    centre = base + 0.2 * school + 3.0 * nte
    return general / general.sum(), centre / centre.sum()


def _points_in_area(rng: np.random.Generator, area: Area, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform WGS84 points inside the area, by rejection from its bounding box."""
    x0, y0, x1, y1 = area.geometry.bounds
    lon_out, lat_out = np.empty(0), np.empty(0)
    while lon_out.size < n:
        m = int((n - lon_out.size) * 1.8) + 64
        lon = rng.uniform(x0, x1, m)
        lat = rng.uniform(y0, y1, m)
        ok = area.contains(lon, lat)
        lon_out, lat_out = np.concatenate([lon_out, lon[ok]]), np.concatenate([lat_out, lat[ok]])
    return lon_out[:n], lat_out[:n]


def _times(rng, n, x, y, centre_xy, p: SynthParams, first_day: int) -> np.ndarray:
    """Local-time offsets in hours since the start for ``n`` background events."""
    days = np.arange(p.days)
    doy = (pd.Timestamp(p.start) + pd.to_timedelta(days, unit="D")).day_of_year.to_numpy()
    season = 1 + p.summer_amplitude * np.cos(2 * np.pi * (doy - 196) / 365.25)
    day = rng.choice(p.days, size=n, p=season / season.sum())
    general, centre = _hour_profiles()
    near = np.hypot(x - centre_xy[0], y - centre_xy[1]) < p.centre_radius_m
    # Pick an hour of the week, then move the day to that weekday within the same week.
    how = np.where(near, rng.choice(168, size=n, p=centre), rng.choice(168, size=n, p=general))
    weekday = (first_day + day) % 7
    shift = how // 24 - weekday
    day = np.clip(day + shift, 0, p.days - 1)
    hours = day * 24.0 + how % 24 + rng.random(n)
    return np.clip(hours, 0, p.days * 24 - 1e-6)


def generate(params: SynthParams | None = None, area: Area | None = None) -> SyntheticCity:
    """Draw a synthetic city (see module docstring); the same params give the same city."""
    p = params or SynthParams()
    check_positive(p.incidents, "incidents")
    check_positive(p.days, "days")
    check_fraction(p.hotspot_share, "hotspot_share")
    if not 0 <= p.branching < 0.95:
        raise ValidationError(f"branching={p.branching!r} must be at least 0 and below 0.95 (else the cascade explodes)", arguments="branching")
    area = area or Area.from_file(DEFAULT_FORCE_AREA)
    rng = np.random.default_rng(p.seed)
    crs = BRITISH_NATIONAL_GRID
    centre_xy = project(np.array([CITY_CENTRE_LONLAT[0]]), np.array([CITY_CENTRE_LONLAT[1]]), crs)
    centre_xy = (float(centre_xy[0][0]), float(centre_xy[1][0]))

    # Persistent hotspots: the city centre first, the rest spread over the area.
    hs_lon, hs_lat = _points_in_area(rng, area, p.n_hotspots)
    hs_lon[0], hs_lat[0] = CITY_CENTRE_LONLAT
    hs_x, hs_y = project(hs_lon, hs_lat, crs)
    weight = rng.pareto(p.hotspot_pareto_shape, p.n_hotspots) + 1.0
    weight[0] = weight.max() * 1.5
    weight /= weight.sum()
    hotspots = pd.DataFrame({"hotspot_id": np.arange(p.n_hotspots), "lon": hs_lon, "lat": hs_lat,
                             "x": hs_x, "y": hs_y, "weight": weight, "sd_m": p.hotspot_sd_m})

    background_expected = p.incidents * (1 - p.branching)
    n_bg = rng.poisson(background_expected)
    in_hotspot = rng.random(n_bg) < p.hotspot_share
    n_hs = int(in_hotspot.sum())
    which = rng.choice(p.n_hotspots, size=n_hs, p=weight)
    bx = np.empty(n_bg)
    by = np.empty(n_bg)
    bx[in_hotspot] = hs_x[which] + rng.normal(0, p.hotspot_sd_m, n_hs)
    by[in_hotspot] = hs_y[which] + rng.normal(0, p.hotspot_sd_m, n_hs)
    flon, flat = _points_in_area(rng, area, n_bg - n_hs)
    bx[~in_hotspot], by[~in_hotspot] = project(flon, flat, crs)
    hotspot_id = np.full(n_bg, -1)
    hotspot_id[in_hotspot] = which
    first_day = pd.Timestamp(p.start).day_of_week
    hours = _times(rng, n_bg, bx, by, centre_xy, p, first_day)
    offence_codes = np.array(list(OFFENCE_MIX))
    shares = np.array([v[0] for v in OFFENCE_MIX.values()])
    offence = rng.choice(len(offence_codes), size=n_bg, p=shares / shares.sum())

    # Hawkes cascade, one generation at a time.
    xs, ys, ts, offs, gens, hsid = [bx], [by], [hours], [offence], [np.zeros(n_bg, int)], [hotspot_id]
    px, py, pt, po = bx, by, hours, offence
    generation = 0
    while px.size and generation < 50:
        generation += 1
        kids = rng.poisson(p.branching, px.size)
        parent = np.repeat(np.arange(px.size), kids)
        cx = px[parent] + rng.normal(0, p.offspring_sd_m, parent.size)
        cy = py[parent] + rng.normal(0, p.offspring_sd_m, parent.size)
        ct = pt[parent] + rng.exponential(p.offspring_days * 24.0, parent.size)
        inherit = rng.random(parent.size) < 0.7
        co = np.where(inherit, po[parent], rng.choice(len(offence_codes), size=parent.size, p=shares / shares.sum()))
        keep = ct < p.days * 24
        cx, cy, ct, co = cx[keep], cy[keep], ct[keep], co[keep]
        xs.append(cx), ys.append(cy), ts.append(ct), offs.append(co)
        gens.append(np.full(cx.size, generation)), hsid.append(np.full(cx.size, -1))
        px, py, pt, po = cx, cy, ct, co
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    off, gen, hid = np.concatenate(offs), np.concatenate(gens), np.concatenate(hsid)
    lon, lat = unproject(x, y, crs)
    inside = area.contains(lon, lat)  # offspring and hotspot tails that fall outside the force are dropped
    x, y, t, off, gen, hid, lon, lat = (a[inside] for a in (x, y, t, off, gen, hid, lon, lat))

    local = pd.Timestamp(p.start) + pd.to_timedelta(t, unit="h")
    occurred = pd.DatetimeIndex(local).tz_localize(p.timezone, ambiguous="NaT", nonexistent="shift_forward")
    ok = ~occurred.isna()
    patrolled = np.zeros(x.size, dtype=bool)
    removed = 0
    if p.patrol is not None:
        patrolled = _patrolled(p.patrol, lon, lat, pd.DatetimeIndex(local), p.start)
        drop = patrolled & (rng.random(x.size) < p.patrol.reduction)
        removed = int(drop.sum())
        ok &= ~drop
    order = np.argsort(np.asarray(occurred.asi8)[ok], kind="stable")
    sel = np.flatnonzero(ok)[order]
    codes = offence_codes[off[sel]]
    knife_share = np.array([OFFENCE_MIX[c][1] for c in offence_codes])[off[sel]]
    u25_share = np.array([np.nan if OFFENCE_MIX[c][2] is None else OFFENCE_MIX[c][2] for c in offence_codes])[off[sel]]
    u25 = np.where(np.isnan(u25_share), None, rng.random(sel.size) < np.nan_to_num(u25_share)).astype(object)
    harm = harm_weights()
    frame = pd.DataFrame(
        {
            "incident_id": [f"S{p.seed}-{i:08d}" for i in range(sel.size)],
            "occurred_at": occurred[sel],
            "lon": lon[sel], "lat": lat[sel], "x": x[sel], "y": y[sel],
            "offence": codes,
            "knife_enabled": rng.random(sel.size) < knife_share,
            "victim_under_25": u25,
            "harm_weight": pd.Series(codes).map(harm).to_numpy(float),
            "generation": gen[sel],
            "hotspot_id": hid[sel],
            "patrolled": patrolled[sel],
        }
    )
    if p.patrol is not None:
        frame = _add_detections(frame, frame["patrolled"].to_numpy(), p.patrol.detection_uplift, rng)
    log.info("synthetic city: %d incidents (%d background expected, %d removed by patrols)",
             len(frame), round(background_expected), removed)
    return SyntheticCity(
        params=p, incidents=frame, hotspots=hotspots, removed_by_patrol=removed,
        background_expected=background_expected,
        extra={"force_area_m2": _area_m2(area)},
    )


def _area_m2(area: Area) -> float:
    import geopandas as gpd

    return float(gpd.GeoSeries([area.geometry], crs="EPSG:4326").to_crs(BRITISH_NATIONAL_GRID).area.iloc[0])


def apply_patrol(city: SyntheticCity, effect: PatrolEffect, seed: int) -> SyntheticCity:
    """The city as if ``effect`` had been in force: the same thinning :func:`generate` applies.

    Used when the patrolled places are chosen after seeing the city (a trial allocates its
    hotspots from the baseline counts), which :func:`generate` cannot know in advance.
    """
    frame = city.incidents
    local = pd.DatetimeIndex(frame["occurred_at"]).tz_convert(city.params.timezone).tz_localize(None)
    hit = _patrolled(effect, frame["lon"].to_numpy(), frame["lat"].to_numpy(), local, city.params.start)
    drop = hit & (np.random.default_rng(seed).random(len(frame)) < effect.reduction)
    kept = frame.loc[~drop].copy()
    kept["patrolled"] = kept["patrolled"].to_numpy() | hit[~drop]
    kept = _add_detections(kept, hit[~drop], effect.detection_uplift, np.random.default_rng([seed, 1]))
    return SyntheticCity(params=city.params, incidents=kept.reset_index(drop=True), hotspots=city.hotspots,
                         removed_by_patrol=city.removed_by_patrol + int(drop.sum()),
                         background_expected=city.background_expected, extra=city.extra)


def _add_detections(frame: pd.DataFrame, hit: np.ndarray, uplift: float, rng: np.random.Generator) -> pd.DataFrame:
    """``frame`` with Poisson(``uplift``) recorded copies of each police-detected offence at ``hit``."""
    if uplift <= 0:
        return frame
    detected = np.isin(frame["offence"].to_numpy(), vocabulary().police_detected())
    source = np.flatnonzero(hit & detected)
    copies = np.repeat(source, rng.poisson(uplift, source.size))
    extra = frame.iloc[copies].copy()
    extra["incident_id"] = [f"{i}-D{k}" for k, i in enumerate(extra["incident_id"])]
    extra["generation"] = -1  # recorded because police were there, not drawn by the process
    merged = pd.concat([frame, extra], ignore_index=True)
    return merged.sort_values("occurred_at", kind="stable", ignore_index=True)


def _patrolled(effect: PatrolEffect, lon: np.ndarray, lat: np.ndarray, local: pd.DatetimeIndex,
               start: dt.date) -> np.ndarray:
    check_fraction(effect.reduction, "reduction")
    cells = h3cells.from_strings(effect.cells)
    if cells.size == 0:
        return np.zeros(lon.size, dtype=bool)
    resolutions = {_resolution(c) for c in cells}
    if len(resolutions) > 1:
        raise ValidationError(f"patrol cells mix H3 resolutions {sorted(resolutions)}; give cells of one resolution")
    res = resolutions.pop()
    mine = np.sort(np.unique(cells))
    at = h3cells.points_to_cells(lon, lat, res)
    pos = np.searchsorted(mine, at).clip(max=mine.size - 1)
    in_place = mine[pos] == at
    how = local.day_of_week.to_numpy() * 24 + local.hour.to_numpy()
    day = (local.normalize() - pd.Timestamp(start)).days.to_numpy()
    in_days = (day >= effect.first_day) & (day < (effect.last_day if effect.last_day is not None else np.inf))
    return in_place & in_days & np.isin(how, np.asarray(effect.hours_of_week))


def _resolution(cell: np.uint64) -> int:
    import h3

    return h3.get_resolution(format(int(cell), "x"))
