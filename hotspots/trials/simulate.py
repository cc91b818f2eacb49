"""Simulated trials on the synthetic city, where the true patrol effect is known.

One trial: draw a city (its own seed) over ``before + during`` weeks; take the places around
its ``places`` strongest true hotspots (an H3 cell and its ring of neighbours); block them by
baseline risk and allocate; thin crimes in patrolled places during the trial with the city's
own patrol effect (:func:`hotspots.synth.apply_patrol`); then estimate as an evaluator would,
and plan the trial's power from its own baseline weeks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.geo import cells as h3cells
from hotspots.synth import PatrolEffect, SynthParams, apply_patrol, generate
from hotspots.trials.allocation import allocate
from hotspots.trials.effects import Panel, difference_in_differences, fixed_effects, randomisation_test
from hotspots.trials.outcomes import place_counts
from hotspots.trials.power import baseline, trial_power

START = dt.date(2024, 1, 1)  # a Monday: weeks of the city are calendar weeks


@dataclass(frozen=True)
class TrialSetup:
    """What every simulated trial shares; ``reduction`` 0 is the null."""

    reduction: float = 0.0
    places: int = 40
    before: int = 12
    during: int = 12
    design: str = "blocked"
    incidents_per_year: int = 50_000
    resolution: int = 9
    draws: int = 0  # randomisation-inference draws per trial (0: skip)
    power_draws: int = 50


def trial_places(city, n_places: int, resolution: int) -> pd.DataFrame:
    """Members (hotspot_id, h3_cell) of non-overlapping places around the strongest true hotspots."""
    hs = city.hotspots.sort_values("weight", ascending=False)
    centres = h3cells.points_to_cells(hs["lon"].to_numpy(), hs["lat"].to_numpy(), resolution)
    taken: set[int] = set()
    rows, made = [], 0
    for centre in centres:
        ring = [int(c) for c in h3cells.k_ring(np.array([centre], dtype=np.uint64), 1)]
        if taken.intersection(ring):
            continue
        taken.update(ring)
        made += 1
        rows += [(f"P{made:03d}", c) for c in h3cells.to_strings(np.array(ring, dtype=np.uint64))]
        if made == n_places:
            break
    return pd.DataFrame(rows, columns=["hotspot_id", "h3_cell"])


def as_stored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Synthetic incidents with the stored time interval columns (exact times: from == to)."""
    return frame.assign(occurred_from=frame["occurred_at"], occurred_to=frame["occurred_at"])


def _estimates(fe: dict, did: dict, prefix: str) -> dict:
    """Each interval's estimate, bounds and p-value, flat, with ``prefix`` (``harm_`` for harm)."""
    out = {}
    for key, short in (("primary", "primary"), ("poisson", "poisson"), ("negative_binomial", "nb")):
        if key in fe:
            est = fe[key]
            out.update({f"{prefix}{short}_irr": est["irr"], f"{prefix}{short}_low": est["irr_ci"][0],
                        f"{prefix}{short}_high": est["irr_ci"][1], f"{prefix}{short}_p": est["p"]})
    out.update({f"{prefix}rirr": did["rirr"], f"{prefix}rirr_low": (did["rirr_ci"] or [np.nan])[0],
                f"{prefix}rirr_high": (did["rirr_ci"] or [np.nan, np.nan])[1], f"{prefix}rirr_p": did["rirr_p"],
                f"{prefix}did": did["did_per_period"], f"{prefix}did_low": did["did_per_period_ci"][0],
                f"{prefix}did_high": did["did_per_period_ci"][1]})
    return out


def simulate_trial(seed: int, setup: TrialSetup, area) -> dict:
    """One simulated trial's estimates, intervals and planned power."""
    days = 7 * (setup.before + setup.during)
    city = generate(SynthParams(seed=seed, incidents=round(setup.incidents_per_year * days / 365), days=days,
                                start=START), area=area)
    members = trial_places(city, setup.places, setup.resolution)
    ids = list(dict.fromkeys(members["hotspot_id"]))
    kw = dict(start=START + dt.timedelta(weeks=setup.before), before=setup.before, during=setup.during,
              period_days=7, timezone=city.params.timezone)
    pre = place_counts(as_stored_frame(city.incidents), members, ids, **kw)
    risk = pre.counts[:, : setup.before].sum(axis=1)
    alloc = allocate(pd.DataFrame({"place_id": ids, "risk": risk}), setup.design, seed=seed + 1,
                     strata=("risk_band",), start=kw["start"])
    treated_ids = set(np.asarray(ids)[alloc.treated[:, 0]])
    if setup.reduction > 0:
        cells = tuple(members.loc[members["hotspot_id"].isin(treated_ids), "h3_cell"])
        city = apply_patrol(city, PatrolEffect(cells=cells, reduction=setup.reduction, first_day=7 * setup.before),
                            seed=seed + 2)
    table = place_counts(as_stored_frame(city.incidents), members, ids, **kw)
    counts = table.counts
    during = np.arange(setup.before + setup.during) >= setup.before
    panel = Panel(place_ids=ids, outcome=counts, treated=alloc.treated[:, :1] & during[None, :], during=during,
                  arm=alloc.treated[:, 0])
    harm, harm_squared = table.outcome("harm")
    harm_panel = Panel(place_ids=ids, outcome=harm, treated=panel.treated, during=during, arm=panel.arm,
                       variance=harm_squared, counts=counts)
    fe = fixed_effects(panel)
    out = {"seed": seed, "crimes": float(counts.sum()), "harm": float(harm.sum()), "removed": city.removed_by_patrol,
           "dispersion": fe["primary"]["dispersion"], "nb_alpha": fe["negative_binomial"]["alpha"]}
    out.update(_estimates(fe, difference_in_differences(panel), ""))
    harm_fe = fixed_effects(harm_panel, count_outcome=False)
    out.update(_estimates(harm_fe, difference_in_differences(harm_panel), "harm_"))
    out["harm_dispersion"] = harm_fe["primary"]["dispersion"]
    if setup.draws:
        out["ri_p"] = randomisation_test(panel, alloc, draws=setup.draws, seed=seed + 3)["p"]
        out["harm_ri_p"] = randomisation_test(harm_panel, alloc, draws=setup.draws, seed=seed + 3)["p"]
    if setup.reduction > 0 and setup.power_draws:
        base = baseline(counts[:, : setup.before])
        out["planned_power"] = trial_power(base, alloc, setup.reduction, before=setup.before,
                                           during=setup.during, draws=setup.power_draws, seed=seed + 4)
    return out
