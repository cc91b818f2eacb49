"""The quarterly return and the public transparency summary.

The return is in the shape a Home Office serious-violence (hotspot action) grant return asks for: per
period of the quarter, the hotspots, patrol hours planned (rosters) and delivered (GPS), visits and
the share of Koper length, crime and harm in the hotspots against the rest of the force, and stop
and search in the hotspots against the rest. It is operational (commanders, analysts, admins).

The public summary is for publication: aggregates of a quarter that ended ``lag_days`` ago or more,
no hotspot ids, names or places, and every table passed through small-number suppression
(:mod:`hotspots.trials.disclosure`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.core.tables import csv_text
from hotspots.services.ingest import stored_incidents
from hotspots.services.weekly import load_set
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import newest_per_period
from hotspots.store.rosters import planned_dosage
from hotspots.store.stop_search import latest_stop_search
from hotspots.store.trials import read_pings
from hotspots.trials.compliance import KOPER_MINUTES
from hotspots.trials.disclosure import DEFAULT_THRESHOLD, suppress, suppress_together
from hotspots.trials.gps import pings_to_visits
from hotspots.trials.outcomes import cell_lookup, locate
from hotspots.trials.stop_search import NO_FURTHER_ACTION, REST, UNPLACED
from maps.returns import render_return, render_summary, summary_csv

DEFAULT_LAG_DAYS = 28
RETURN_COLUMNS = ["period_label", "period_start", "period_end", "set_id", "hotspots", "hotspot_km2", "area_share",
                  "planned_hours", "delivered_hours", "planned_visits", "gps_visits", "koper_share",
                  "crimes_in_hotspots", "crimes_rest", "harm_in_hotspots", "harm_rest", "crimes_not_placed_in_time",
                  "searches_in_hotspots", "searches_rest"]


def parse_quarter(text: str) -> tuple[str, dt.date, dt.date]:
    """'2024Q1' (or '2024-Q1') as its label, first day and last day."""
    match = re.fullmatch(r"\s*(\d{4})-?[Qq]([1-4])\s*", text or "")
    if not match:
        raise ValidationError(f"quarter={text!r} is not a quarter; write it as 2024Q1", arguments="quarter")
    year, q = int(match[1]), int(match[2])
    if not 1900 <= year <= 2999:
        raise ValidationError(f"quarter={text!r}: the year must be 1900 to 2999", arguments="quarter")
    first = dt.date(year, 3 * q - 2, 1)
    last = (dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1))
    return f"{year}Q{q}", first, last


@dataclass
class QuarterlyReturn:
    quarter: str
    first: dt.date
    last: dt.date
    rows: pd.DataFrame
    totals: dict
    notes: list[str] = field(default_factory=list)
    #: stop-and-search counts during each period's designation (COUNT_KEYS and searches), unplaced left out
    searches: pd.DataFrame = field(default_factory=pd.DataFrame)

    def table(self) -> pd.DataFrame:
        """The rows and a total row, as the CSV has them."""
        return pd.concat([self.rows, pd.DataFrame([self.totals])], ignore_index=True)[RETURN_COLUMNS]

    def csv(self) -> str:
        return csv_text(self.table(), float_format="%.4g")

    def page(self) -> str:
        return render_return(self.quarter, self.first, self.last, self.table(), self.notes, dt.datetime.now(dt.UTC))


def quarter_sets(store: Store, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The newest version of each period's set whose period starts in ``[first, last]``, oldest first."""
    sets = newest_per_period(store)
    starts = pd.to_datetime(sets["period_start"]).dt.date
    return sets[(starts >= first) & (starts <= last)]


def quarterly_return(store: Store, quarter: str, *, timezone: str = "Europe/London") -> QuarterlyReturn:
    """The return for ``quarter`` ('2024Q1'); NotReadyError when no hotspot set starts in it."""
    label, first, last = parse_quarter(quarter)
    sets = quarter_sets(store, first, last)
    if sets.empty:
        raise NotReadyError(f"no hotspot set starts in {label} ({first} to {last}); nothing to return")
    rows, searches = zip(*(_period_row(store, int(s.set_id), timezone) for s in sets.itertuples()), strict=True)
    frame = pd.DataFrame(list(rows), columns=RETURN_COLUMNS)
    sums = {c: frame[c].sum(min_count=1) for c in RETURN_COLUMNS[4:] if c not in ("area_share", "koper_share")}
    koper = (frame["koper_share"] * frame["gps_visits"]).sum(min_count=1)
    totals = {"period_label": f"{label} total", "period_start": first, "period_end": last, "set_id": None, **sums,
              "area_share": frame["area_share"].mean(),
              "koper_share": koper / sums["gps_visits"] if sums["gps_visits"] else np.nan}
    notes = ["hours delivered and visits are from GPS pings inside the geofences (a visit: 2+ minutes, gaps under "
             f"3 minutes); Koper length is {KOPER_MINUTES[0]:.0f} to {KOPER_MINUTES[1]:.0f} minutes",
             "crime is recorded crime except offences police activity detects; crimes known only to the month cannot "
             "be placed in a week and are counted apart",
             "blank stop-and-search cells: no stop and search was loaded for that period's set"]
    found = [s for s in searches if s is not None]
    return QuarterlyReturn(label, first, last, frame, totals, notes,
                           pd.concat(found, ignore_index=True) if found else pd.DataFrame())


def _period_row(store: Store, set_id: int, timezone: str) -> tuple[dict, pd.DataFrame | None]:
    """One period's row of the return, and its stop-and-search counts during designation (None: none loaded)."""
    hs = load_set(store, set_id)
    p = hs.parameters
    start, end = p["period_start"], p["period_end"]
    since, until = (pd.Timestamp(d).tz_localize(timezone).tz_convert("UTC") for d in (start, end + dt.timedelta(days=1)))
    hot_m2 = float(hs.hotspots["area_m2"].sum())
    planned = planned_dosage(store, set_id, start, end + dt.timedelta(days=1))
    visits = pings_to_visits(read_pings(store, since, until), hs.members, timezone=timezone)
    row = {"period_label": p["period_label"], "period_start": start, "period_end": end, "set_id": set_id,
           "hotspots": len(hs.hotspots), "hotspot_km2": hot_m2 / 1e6, "area_share": hot_m2 / hs.region_area_m2,
           "planned_hours": float(planned["planned_minutes"].sum()) / 60, "planned_visits": int(planned["visits"].sum()),
           "delivered_hours": float(visits["minutes"].sum()) / 60, "gps_visits": len(visits),
           "koper_share": float(visits["minutes"].between(*KOPER_MINUTES).mean()) if len(visits) else np.nan}
    row.update(_crime(store, hs, since, until))
    load = latest_stop_search(store, set_id)
    if load is None:
        row.update(searches_in_hotspots=np.nan, searches_rest=np.nan)
        return row, None
    during = load.counts[load.counts["window"].eq("during") & load.counts["hotspot_id"].ne(UNPLACED)]
    rest = during["hotspot_id"].eq(REST)
    row.update(searches_in_hotspots=int(during.loc[~rest, "searches"].sum()),
               searches_rest=int(during.loc[rest, "searches"].sum()))
    return row, during


def _crime(store: Store, hs, since: pd.Timestamp, until: pd.Timestamp) -> dict:
    """Crimes and harm inside the hotspots and in the rest, of incidents known to fall in the period."""
    none = {"crimes_in_hotspots": np.nan, "crimes_rest": np.nan, "harm_in_hotspots": np.nan, "harm_rest": np.nan,
            "crimes_not_placed_in_time": np.nan}
    if hs.parameters.get("count_placement"):
        return none  # chosen from counts per area: no incident has a place
    incidents = stored_incidents(store, None, since, until, allow_empty=True)
    if incidents.empty:
        return {**none, "crimes_not_placed_in_time": 0}
    within = (incidents["occurred_from"] >= since) & (incidents["occurred_to"] < until)
    known = incidents[within]
    ids = list(dict.fromkeys(hs.members["hotspot_id"]))
    cells, owner, resolution = cell_lookup(hs.members, ids)
    inside = locate(known["lon"].to_numpy(float), known["lat"].to_numpy(float), cells, owner, resolution) >= 0
    harm = known["harm_weight"].to_numpy(float)
    return {"crimes_in_hotspots": int(inside.sum()), "crimes_rest": int((~inside).sum()),
            "harm_in_hotspots": float(harm[inside].sum()), "harm_rest": float(harm[~inside].sum()),
            "crimes_not_placed_in_time": int((~within).sum())}


@dataclass
class PublicSummary:
    """What may be published for a quarter: headline figures and suppressed tables, no places."""

    quarter: str
    first: dt.date
    last: dt.date
    headline: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    notes: list[str]

    def csv(self) -> str:
        return summary_csv(self.headline, self.tables)

    def page(self) -> str:
        return render_summary(self.quarter, self.first, self.last, self.headline, self.tables, self.notes)


def transparency_summary(store: Store, quarter: str, *, today: dt.date, lag_days: int = DEFAULT_LAG_DAYS,
                         threshold: int = DEFAULT_THRESHOLD, timezone: str = "Europe/London") -> PublicSummary:
    """The public summary of a past quarter; NotReadyError until ``lag_days`` after its last day.

    Parameters
    ----------
    store : the store.
    quarter : '2024Q1'.
    today : the local day judged on (the lag runs from the quarter's last day).
    lag_days : days after the quarter's end before it may be published.
    threshold : the smallest count published.
    timezone : the force's time zone.

    Returns
    -------
    PublicSummary
    """
    label, first, last = parse_quarter(quarter)
    opens = last + dt.timedelta(days=lag_days)
    if today < opens:
        raise NotReadyError(f"quarter={label!r} is published from {opens} ({lag_days} days after it ends), not "
                            f"before: current hotspots are operational")
    ret = quarterly_return(store, label, timezone=timezone)
    t = ret.totals
    headline = pd.DataFrame([
        ("hotspot periods", len(ret.rows)),
        ("hotspot designations (hotspots summed over periods)", int(ret.rows["hotspots"].sum())),
        ("mean share of the force area in hotspots", f"{t['area_share']:.1%}"),
        ("patrol hours delivered in hotspots (GPS, to the nearest 10)", _nearest_ten(t["delivered_hours"])),
    ], columns=["measure", "value"])
    tables = {}
    crime = pd.DataFrame({"hotspots": [t["crimes_in_hotspots"]], "rest of force": [t["crimes_rest"]]},
                         index=["recorded crimes"])
    if crime.notna().all(axis=None):
        tables["crime"] = suppress(crime.astype(int), threshold)[0]
    counts = ret.searches
    if not counts.empty:
        place = np.where(counts["hotspot_id"].eq(REST), "rest of force", "hotspots")
        counts = counts.assign(place=place, result=np.where(counts["outcome"].eq(NO_FURTHER_ACTION),
                                                            "no further action", "further action"))
        breakdowns = {name: counts.pivot_table(index=column, columns="place", values="searches", aggfunc="sum",
                                               fill_value=0).reindex(columns=["hotspots", "rest of force"], fill_value=0)
                      for name, column in (("searches by self-defined ethnicity", "self_group"),
                                           ("searches by outcome", "result"))}
        tables.update(suppress_together(breakdowns, threshold))
    notes = [f"published {lag_days} days or more after the quarter ends; no hotspot is named or located",
             f"counts from 1 to {threshold - 1} are shown as <5, with further cells hidden where a total would "
             "reveal them", "searches without a position are left out of these tables"]
    return PublicSummary(label, first, last, headline, tables, notes)


def _nearest_ten(hours: float) -> int:
    return 0 if hours != hours else int(round(hours / 10.0) * 10)
