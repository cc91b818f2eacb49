"""The detection effect: offences that police activity finds (possession of weapons, drugs) recorded
in patrolled places against control places and against their own past.

Patrols find what they look for: where police go, recorded weapons and drugs offences rise even if
nothing about crime changed (Lum & Isaac 2016; Ensign et al. 2018). Measuring that rise is how the
feedback loop is watched: the predictor's targets leave these offences out by default, and this
estimate says how much a forecast that counted them would have been fed by the patrols themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.trials.allocation import Allocation
from hotspots.trials.effects import Panel, difference_in_differences, fixed_effects
from hotspots.trials.outcomes import cell_lookup, locate, place_counts
from hotspots.trials.stop_search import ratio_of_ratios


def detection_effect(alloc: Allocation, members: pd.DataFrame, detected: pd.DataFrame, *, before: int, during: int,
                     offences: list[str], timezone: str = "Europe/London") -> dict:
    """Rate ratio of police-detected offences in patrolled places during the trial (parallel designs:
    weeks before the start against weeks from it, patrolled against control places).

    Parameters
    ----------
    alloc : the registered allocation (a parallel design).
    members : the set's hotspot cells (hotspot_id, h3_cell).
    detected : the police-detected offences (occurred_from, occurred_to, lon, lat, harm_weight).
    before, during : weeks before the start and weeks from it.
    offences : the offence groups counted, for the report.
    timezone : the force's time zone.

    Returns
    -------
    dict
        offences, offences_counted, irr, irr_ci, p (the patrol-only fixed-effects estimate: above 1
        means patrols record more of them), rirr and its interval, and a reading in words.
    """
    ids = alloc.places["place_id"].tolist()
    table = place_counts(detected, members[members["hotspot_id"].isin(ids)], ids, start=alloc.start, before=before,
                         during=during, period_days=7, timezone=timezone)
    counted = float(table.counts.sum())
    out = {"offences": offences, "offences_counted": counted, "irr": None, "irr_ci": [None, None], "p": None,
           "rirr": None, "rirr_ci": [None, None]}
    if counted == 0:
        out["reading"] = "no police-detected offence fell in the trial's places and weeks: no detection effect measured"
        return out
    during_mask = np.arange(before + during) >= before
    arm = alloc.treated[:, 0]
    panel = Panel(place_ids=ids, outcome=table.counts, treated=arm[:, None] & during_mask[None, :], during=during_mask,
                  arm=arm)
    primary = fixed_effects(panel)["primary"]
    did = difference_in_differences(panel)
    low, high = primary["irr_ci"]
    out.update(irr=primary["irr"], irr_ci=[low, high], p=primary["p"], rirr=did["rirr"], rirr_ci=did["rirr_ci"])
    verdict = ("patrols recorded more of them: forecasts that counted them would be fed by the patrols"
               if low > 1 else "no clear detection effect at this trial's size" if low <= 1 <= high
               else "patrols recorded fewer of them")
    out["reading"] = (f"police-detected offences ({', '.join(offences)}) in patrolled places: rate ratio "
                      f"{primary['irr']:.2f} (95% interval {low:.2f} to {high:.2f}); {verdict}")
    return out


DETECTION_COLUMNS = ["period_label", "period_start", "period_end", "hotspots_during", "hotspots_before",
                     "rest_during", "rest_before", "ratio", "low", "high"]


def detection_by_period(detected: pd.DataFrame, periods: list[tuple[str, pd.Timestamp, pd.Timestamp, pd.DataFrame]],
                        ) -> tuple[pd.DataFrame, dict]:
    """Police-detected offences in each period's hotspots against their own previous window of the same
    length, relative to the same change in the rest of the force (a ratio of rate ratios).

    Parameters
    ----------
    detected : the police-detected offences (occurred_from, occurred_to aware; lon, lat). An offence
        counts in a window only when its whole recorded interval lies inside it.
    periods : (label, start, end, members) per hotspot set: start and end as aware instants bounding
        ``[start, end)``, members the set's cells (hotspot_id, h3_cell).

    Returns
    -------
    (pandas.DataFrame, dict)
        DETECTION_COLUMNS per period (log-normal 95% interval; none where a count is 0), and the
        pooled ratio over all periods with its interval and the number of periods.
    """
    rows = []
    for label, start, end, members in periods:
        length = end - start
        cells, owner, resolution = cell_lookup(members, list(dict.fromkeys(members["hotspot_id"])))
        counts = {}
        for name, (a, b) in (("during", (start, end)), ("before", (start - length, start))):
            inside = detected[(detected["occurred_from"] >= a) & (detected["occurred_to"] < b)]
            hot = locate(inside["lon"].to_numpy(float), inside["lat"].to_numpy(float), cells, owner, resolution) >= 0
            counts[f"hotspots_{name}"], counts[f"rest_{name}"] = int(hot.sum()), int((~hot).sum())
        rows.append({"period_label": label, "period_start": start, "period_end": end, **counts,
                     **_change(counts)})
    table = pd.DataFrame(rows, columns=DETECTION_COLUMNS)
    pooled = _change({c: int(table[c].sum()) for c in DETECTION_COLUMNS[3:7]}) if rows else {}
    return table, {**pooled, "periods": len(rows)}


def _change(n: dict) -> dict:
    """The hotspots' change over the rest's (equal windows, so no exposure term)."""
    return ratio_of_ratios(n["hotspots_during"], n["hotspots_before"], n["rest_during"], n["rest_before"])


def detection_sentence(pooled: dict, offences: list[str]) -> str:
    """The pooled detection effect in one sentence, for the model card and reports."""
    if not pooled.get("periods"):
        return "Detection effect: no hotspot set is stored, so it is not measured yet."
    if not np.isfinite(pooled.get("ratio", np.nan)):
        return (f"Detection effect: too few police-detected offences ({', '.join(offences)}) in the "
                f"{pooled['periods']} stored hotspot periods and the windows before them to measure it.")
    return (f"Detection effect: police-detected offences ({', '.join(offences)}) in the stored hotspots changed "
            f"{pooled['ratio']:.2f}× (95% interval {pooled['low']:.2f} to {pooled['high']:.2f}) during designation "
            f"against the window before, relative to the rest of the force, over {pooled['periods']} period(s). "
            "This is an observational measure (designation follows crime); a trial's evaluation measures it "
            "against randomised controls.")
