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
from hotspots.trials.outcomes import place_counts


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
