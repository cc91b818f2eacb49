"""Stop and search in and out of a hotspot set: load the files as counts, and report rates, the
outcome test and (with a population table) disproportionality.

The files are read, coarsened and counted in one go (:mod:`hotspots.ingest.stop_search`,
:mod:`hotspots.trials.stop_search`); only the counts reach the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import FormatError, NotReadyError
from hotspots.core.tables import json_records
from hotspots.ingest.files import expand_paths, file_sha256
from hotspots.ingest.stop_search import read_population, read_stop_search
from hotspots.services.weekly import load_set
from hotspots.store.db import Store
from hotspots.store.stop_search import StopSearchLoad, latest_stop_search, save_stop_search
from hotspots.trials.stop_search import (
    REST,
    UNPLACED,
    count_searches,
    disproportionality,
    find_measure,
    find_rates,
    place_rates,
    window_days,
)

DEFAULT_BEFORE_DAYS = 84


def load_stop_search(store: Store, set_id: int, paths, *, loaded_by: str, before_days: int = DEFAULT_BEFORE_DAYS,
                     timezone: str = "Europe/London", options: dict | None = None) -> StopSearchLoad:
    """Read stop-and-search files and store their counts on a hotspot set, in one transaction.

    Parameters
    ----------
    store : the store.
    set_id : the hotspot set whose hotspots the searches are placed in.
    paths : files, folders or globs of data.police.uk stop-and-search CSVs (``.gz`` read through).
    loaded_by : who loads them, for the audit log.
    before_days : length of the window before the set's period that "before" compares with.
    timezone : the force's time zone.
    options : reader options (``encoding``, ``delimiter``).

    Returns
    -------
    StopSearchLoad
        The stored load; ``added`` is False when these files were already loaded for this set.
    """
    hs = load_set(store, set_id)
    files, frames, rejected = [], [], []
    for path in expand_paths(paths):
        read = read_stop_search(path, options)
        files.append({"name": path.name, "sha256": file_sha256(path), "rows": len(read.frame)})
        frames.append(read.frame)
        rejected += [(path.name, line, why) for line, why in read.rejected]
    searches = pd.concat(frames, ignore_index=True)
    if searches.empty:
        names = ", ".join(f["name"] for f in files)
        raise FormatError(f"{names}: no stop-and-search row could be read ({len(rejected)} rejected); nothing stored")
    local = pd.DatetimeIndex(searches["at"]).tz_convert(timezone)
    months = sorted(set(local.strftime("%Y-%m")))
    p = hs.parameters
    counts = count_searches(searches, hs.members, period_start=p["period_start"], period_end=p["period_end"],
                            before_days=before_days, timezone=timezone)
    digest = hashlib.sha256(json.dumps([sorted(f["sha256"] for f in files), before_days, timezone]).encode())
    return save_stop_search(store, set_id=int(set_id), fingerprint=digest.hexdigest(), files=files, months=months,
                            before_days=before_days, counts=counts, rejected=rejected, rows_read=len(searches),
                            loaded_by=loaded_by)


@dataclass
class StopSearchReport:
    """What the stop-and-search report of one set shows; every table is a plain frame."""

    set_id: int
    period_label: str
    months: list[str]
    days: dict[str, int]
    searches: int
    unplaced: int
    rates: pd.DataFrame
    comparisons: pd.DataFrame
    per_hotspot: pd.DataFrame
    by_legislation: pd.DataFrame
    by_object: pd.DataFrame
    find_rates: pd.DataFrame
    find_measure: str
    disproportionality: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Each table by name, for CSV files and JSON."""
        out = {"rates": self.rates, "comparisons": self.comparisons, "per_hotspot": self.per_hotspot,
               "by_legislation": self.by_legislation, "by_object": self.by_object, "find_rates": self.find_rates}
        if self.disproportionality is not None:
            out["disproportionality"] = self.disproportionality
        return out


def stop_search_report(store: Store, set_id: int, *, population: str | Path | None = None,
                       npus: tuple[str, ...] = ()) -> StopSearchReport:
    """The report of a set's newest stop-and-search load (NotReadyError when none was loaded); a
    reader limited to ``npus`` gets the per-hotspot rows of their NPUs only."""
    load = latest_stop_search(store, int(set_id))
    if load is None:
        raise NotReadyError(f"no stop and search is loaded for set {set_id}; run 'hotspots stop-search load "
                            f"FILES --set {set_id}' first")
    hs = load_set(store, set_id)
    p, counts = hs.parameters, load.counts
    hotspot_area = float(hs.hotspots["area_m2"].sum())
    days = window_days(load.months, period_start=p["period_start"], period_end=p["period_end"],
                       before_days=load.before_days)
    found = place_rates(counts, hotspot_area_m2=hotspot_area, rest_area_m2=hs.region_area_m2 - hotspot_area, days=days)
    inside = ~counts["hotspot_id"].isin([REST, UNPLACED])
    place = np.where(inside, "hotspots", np.where(counts["hotspot_id"].eq(REST), "rest", "unplaced"))
    placed = counts.assign(place=place)
    during = placed[placed["window"].eq("during")]
    measure = find_measure(counts)
    finds = []
    for where, part in (("hotspots", during[during["place"].eq("hotspots")]),
                        ("rest", during[during["place"].eq("rest")]), ("all loaded months", counts)):
        for group in ("self_group", "officer_group"):
            table = find_rates(part, group, measure)
            finds.append(table.assign(where=where, defined_by=group.removesuffix("_group"))
                         if not table.empty else table)
    per_hotspot = (placed[inside].pivot_table(index="hotspot_id", columns="window", values="searches", aggfunc="sum",
                                              fill_value=0)
                   .reindex(columns=["before", "during"], fill_value=0).reset_index())
    names = hs.hotspots.set_index("hotspot_id")[["name", "area_name"]]
    per_hotspot = per_hotspot.join(names, on="hotspot_id")
    if npus:
        per_hotspot = per_hotspot[per_hotspot["area_name"].isin(npus)]
    notes = [f"find rate: {_measure_words(measure)}",
             "rates are searches per km² per 28 days; ratios carry exact conditional 95% intervals, find rates Wilson's"]
    if days["before"] == 0:
        notes.append("the loaded months do not reach before the set's period: no before/during comparison")
    return StopSearchReport(
        set_id=int(set_id), period_label=p["period_label"], months=load.months, days=days,
        searches=int(counts["searches"].sum()), unplaced=int(counts.loc[place == "unplaced", "searches"].sum()),
        rates=found["rates"], comparisons=found["comparisons"], per_hotspot=per_hotspot.reset_index(drop=True),
        by_legislation=_crossed(during, "legislation"), by_object=_crossed(during, "object_of_search"),
        find_rates=pd.concat(finds, ignore_index=True), find_measure=measure,
        disproportionality=None if population is None else disproportionality(counts, read_population(population)),
        notes=notes)


def _crossed(during: pd.DataFrame, column: str) -> pd.DataFrame:
    """Searches during designation by ``column``, in the hotspots and in the rest of the force."""
    table = during.pivot_table(index=column, columns="place", values="searches", aggfunc="sum", fill_value=0)
    return table.reindex(columns=["hotspots", "rest"], fill_value=0).reset_index()


def _measure_words(measure: str) -> str:
    if measure == "linked":
        return "the outcome was linked to the object of the search"
    return ("any outcome beyond no further action (most searches do not record whether the outcome was linked to "
            "the object, so a linked find rate would rest on too few)")


def report_json(report: StopSearchReport) -> dict:
    """The report as plain JSON-ready values (NaN and infinity as None)."""
    return {"set_id": report.set_id, "period_label": report.period_label, "months": report.months,
            "days": report.days, "searches": report.searches, "unplaced": report.unplaced,
            "find_measure": report.find_measure, "notes": report.notes,
            "tables": {name: json_records(frame) for name, frame in report.tables().items()}}
