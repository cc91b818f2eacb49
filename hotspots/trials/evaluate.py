"""One trial's evaluation, from registered allocation to report: ``evaluate_trial``.

Periods are weeks for parallel designs (``before`` weeks before the start, ``during`` from it)
and the allocation's own periods for crossover designs. The report is a plain dict (the JSON
report, and what the HTML report draws) stating the design and its fingerprint, compliance, every
estimate with its interval, and what the estimates do and do not show.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.trials.allocation import Allocation
from hotspots.trials.calibration import INTERVALS, calibration_for
from hotspots.trials.compliance import compliance, delivered_by_period
from hotspots.trials.displacement import buffer_rings, wdd, wdq
from hotspots.trials.effects import Panel, difference_in_differences, dose_response, fixed_effects, randomisation_test
from hotspots.trials.outcomes import place_counts


def evaluate_trial(alloc: Allocation, members: pd.DataFrame, incidents: pd.DataFrame, *, before: int = 12,
                   during: int | None = None, outcome: str = "count", visits: pd.DataFrame | None = None,
                   planned: pd.DataFrame | None = None, draws: int = 1000, rings: int = 2, seed: int = 0,
                   timezone: str = "Europe/London") -> dict:
    """Estimate the trial's effects; see the module docstring for periods and the report's content.

    Parameters
    ----------
    alloc : the registered allocation.
    members : the set's hotspot cells (hotspot_id, h3_cell).
    incidents : the crimes counted (occurred_from, occurred_to, lon, lat, harm_weight).
    before : periods before the start (parallel designs; weeks).
    during : periods since the start; None for a crossover design's own periods.
    outcome : count (crimes) or harm (Cambridge Crime Harm Index days).
    visits, planned : GPS visits and planned dosage, for compliance and dose-response; None leaves
        those sections out.
    draws : randomisation-inference draws. rings : H3 rings of the displacement buffer.
    seed : seed of the draws. timezone : the force's time zone, for local days.

    Returns
    -------
    dict
        The report: design and fingerprint, compliance, every estimate with its interval, and what
        the estimates do and do not show.
    """
    crossover = alloc.design == "crossover"
    period_days = alloc.period_days if crossover else 7
    periods_during = alloc.treated.shape[1] if crossover else (during or 0)
    if periods_during < 1:
        raise ValidationError("weeks: give the number of weeks the trial has run (at least 1)", arguments="weeks")
    before = 0 if crossover else before
    if not crossover and before < 1:
        raise ValidationError("weeks_before must be at least 1 for a parallel design: the estimates compare "
                              "each arm with its own past", arguments="weeks_before")
    ids = alloc.places["place_id"].tolist()
    members = members[members["hotspot_id"].isin(ids)]
    table = place_counts(incidents, members, ids, start=alloc.start, before=before, during=periods_during,
                         period_days=period_days, timezone=timezone)
    if table.counts.sum() == 0:
        raise NotReadyError("no crimes fall in the trial's places and periods; check the offence groups, "
                            "the dates and that incidents were loaded")
    during_mask = np.arange(before + periods_during) >= before
    treated = np.zeros_like(table.counts, dtype=bool)
    treated[:, during_mask] = alloc.treated if crossover else alloc.treated[:, :1]
    y, variance = table.outcome(outcome)
    arm = None if crossover else alloc.treated[:, 0]
    panel = Panel(place_ids=ids, outcome=y, treated=treated, during=during_mask, arm=arm,
                  variance=None if outcome == "count" else variance, counts=None if outcome == "count" else table.counts)
    ri = randomisation_test(panel, alloc, draws=draws, seed=seed)
    report = {
        "trial": alloc.issue, "design": {"name": alloc.design, "seed": alloc.seed, **alloc.parameters,
                                         "summary": alloc.summary()},
        "fingerprint": alloc.fingerprint,
        "window": {"first_day": table.first_day.isoformat(), "start": alloc.start.isoformat(),
                   "end": (alloc.start + dt.timedelta(days=periods_during * period_days)).isoformat(),
                   "periods_before": before, "periods_during": periods_during, "period_days": period_days},
        "outcome": outcome, "places": len(ids), "patrolled_places": int(alloc.treated[:, 0].sum()),
        "crimes": float(table.counts.sum()), "harm": float(table.harm.sum()),
        "left_out_imprecise": table.left_out_imprecise,
        "fixed_effects": fixed_effects(panel, count_outcome=outcome == "count"),
        "randomisation": {k: v for k, v in ri.items() if k != "null"},
        "series": _series(y, treated, during_mask, arm, table.first_day, period_days),
        "randomisation_null": ri["null"].tolist(),
    }
    if not crossover:
        report["difference_in_differences"] = difference_in_differences(panel)
        report["displacement"] = _displacement(alloc, members, incidents, table, rings, timezone, outcome)
    if visits is not None:
        report.update(_dosage(alloc, panel, visits, planned, table.first_day, period_days))
    report["calibration"] = calibration_for(outcome)
    report["reading"] = _reading(report)
    return report


def _series(y, treated, during, arm, first_day, period_days) -> dict:
    """Mean outcome per place and period: per arm (parallel) or patrolled against not (crossover)."""
    starts = [(first_day + dt.timedelta(days=i * period_days)).isoformat() for i in range(y.shape[1])]
    if arm is not None:
        return {"period_start": starts, "during": during.tolist(),
                "treatment": y[arm].mean(axis=0).tolist(), "control": y[~arm].mean(axis=0).tolist()}
    patrolled = np.where(treated, y, np.nan)
    unpatrolled = np.where(~treated, y, np.nan)
    return {"period_start": starts, "during": during.tolist(),
            "treatment": np.nanmean(patrolled, axis=0).tolist(), "control": np.nanmean(unpatrolled, axis=0).tolist()}


def _displacement(alloc, members, incidents, hot, rings, timezone, outcome) -> dict:
    """WDD and WDQ per buffer ring: patrolled places and their rings against control places and theirs.

    ``hot`` is the places' own table of counts (:class:`PlaceCounts`) over the same weeks.
    """
    ids = alloc.places["place_id"].tolist()
    arm = alloc.treated[:, 0]
    before, during = hot.before, hot.during
    ring_cells = buffer_rings(members, dict(zip(ids, arm.tolist(), strict=True)), rings)
    kw = dict(start=alloc.start, before=before, during=during, timezone=timezone)

    def before_during(table, rows, which: int = 0) -> tuple[float, float]:
        y = table.outcome(outcome)[which][rows]  # which 0: the sums; 1: their Poisson variances
        return float(y[:, :before].sum()), float(y[:, before:].sum())

    t, c = before_during(hot, arm), before_during(hot, ~arm)
    vt, vc = before_during(hot, arm, 1), before_during(hot, ~arm, 1)
    out = []
    for k in range(1, rings + 1):
        cells = ring_cells[ring_cells["ring"] == k]
        if cells.empty:
            continue
        zones = pd.DataFrame({"hotspot_id": np.where(cells["treated"].to_numpy(), "T", "C"),
                              "h3_cell": cells["h3_cell"].to_numpy()})
        ring = place_counts(incidents, zones, ["T", "C"], **kw)
        in_t, in_c = np.array([True, False]), np.array([False, True])
        d, cd = before_during(ring, in_t), before_during(ring, in_c)
        variances = (vt, vc, before_during(ring, in_t, 1), before_during(ring, in_c, 1))
        entry = {"ring": k, "cells_patrolled_buffer": int(cells["treated"].sum()),
                 "cells_control_buffer": int((~cells["treated"]).sum()),
                 "buffer_before": d[0], "buffer_during": d[1], "control_buffer_before": cd[0],
                 "control_buffer_during": cd[1], "wdd": wdd(t, c, d, cd, time_weights=(before, during), variances=variances).as_dict()}
        if min(c) > 0:  # per-week rates, so before and during may differ in length
            entry["wdq"] = wdq(t[0] / before, t[1] / during, d[0] / before, d[1] / during,
                               c[0] / before, c[1] / during).as_dict()
        out.append(entry)
    return {"hotspots_before": t[0] + c[0], "rings": out}


def _dosage(alloc, panel, visits, planned, first_day, period_days) -> dict:
    ids = panel.place_ids
    minutes = delivered_by_period(visits, ids, first_day, panel.outcome.shape[1], period_days)
    arms = pd.DataFrame({"hotspot_id": ids, "arm": "crossover" if alloc.design == "crossover" else
                         np.where(alloc.treated[:, 0], "treatment", "control")})
    in_trial = visits[visits["hotspot_id"].isin(ids)]
    table, summary = compliance(in_trial, arms, planned)
    during = panel.during
    summary["minutes_in_unpatrolled_place_periods"] = float(minutes[:, during][~panel.treated[:, during]].sum())
    out = {"compliance": summary, "compliance_table": table.replace({np.nan: None}).to_dict("records"),
           "dose": {"minutes": minutes.tolist(), "outcome": panel.outcome.tolist()}}
    if minutes[:, during].sum() > 0 and np.ptp(minutes) > 0:
        out["dose_response"] = dose_response(panel, minutes)
    return out


def _calibration_lines(report: dict) -> list[str]:
    """How the report's intervals behaved in the project's null simulations, and which not to quote."""
    cal = report["calibration"]
    checked = {k: v for k, v in cal["intervals"].items() if k in INTERVALS}
    if not checked:
        return [f"No null simulations of the {report['outcome']} outcome are on record (data/trials/"
                "null_calibration.csv): how often these intervals reject a true null is not known here."]
    low, high = cal["band"]
    rates = "; ".join(f"{INTERVALS[k]} {100 * v['type_i_error']:.1f}%" for k, v in checked.items())
    lines = [f"In the project's own simulated trials with no effect ({cal['design']}), a 5% test should reject "
             f"5% of the time; these rejected: {rates}."]
    bad = [INTERVALS[k] for k, v in checked.items() if not v["quote"]]
    if bad:
        lines.append(f"Not to be quoted, as they rejected a true null outside {100 * low:.1f}-{100 * high:.1f}% of "
                     f"the time: {', '.join(bad)}. Weekly models treat a place's weeks as independent and "
                     "near-repeat crime makes their intervals too narrow; the Wilson and DiD intervals ignore "
                     "over-dispersion.")
    return lines


def _reading(report: dict) -> list[str]:
    """What the estimates do and do not show, in words an evaluator can quote."""
    est = report["fixed_effects"]["primary"]
    lines = []
    low, high = est["irr_ci"]
    change = 100 * (est["irr"] - 1)
    lines.append(f"Patrolled place-periods had {abs(change):.0f}% {'fewer' if change < 0 else 'more'} "
                 f"{'crimes' if report['outcome'] == 'count' else 'harm'} than expected from their own past and the "
                 f"control places (rate ratio {est['irr']:.2f}, 95% interval {low:.2f} to {high:.2f}).")
    p = report["randomisation"]["p"]
    lines.append(f"Re-drawing the allocation {report['randomisation']['draws']:,} times under the same design, a "
                 f"difference at least this large arose by chance with probability {p:.3f}; this p-value does not "
                 "depend on any model of the counts.")
    if low <= 1 <= high:
        lines.append("The interval includes no effect: the trial cannot tell a reduction from chance at this size.")
    lines += _calibration_lines(report)
    if report.get("left_out_imprecise"):
        lines.append(f"{report['left_out_imprecise']} crimes recorded only by month could not be placed in a "
                     "period and were left out.")
    comp = report.get("compliance")
    if comp is None:
        lines.append("No GPS logs cover the trial: the estimate is of patrols as allocated (intention to treat); "
                     "whether they were delivered is not shown.")
    else:
        if comp.get("delivered_share") is not None:
            lines.append(f"GPS shows {100 * comp['delivered_share']:.0f}% of planned minutes delivered in patrolled "
                         f"places; {100 * comp['koper_share']:.0f}% of visits were of Koper length.")
        if comp["control_visits"]:
            lines.append(f"{comp['control_visits']} visits ({comp['control_minutes']:.0f} minutes) went to control "
                         "places: contamination makes the estimated effect smaller than the true one.")
        if "dose_response" in report:
            lines.append("Dose-response compares delivered minutes within places over time; units choose where to "
                         "spend extra time, so it is an association, not an experimental estimate.")
    lines.append("The estimate is the effect of being allocated to patrol in these places over these weeks; "
                 "it does not show that the same effect would hold at other places, doses or times.")
    return lines
