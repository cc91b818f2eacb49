"""Did crime move next door? WDQ and WDD over buffer rings of H3 cells.

* Weighted displacement quotient (Bowers and Johnson 2003; formulas as in Guerette 2009,
  Appendix B): with R the patrolled places, D their buffer, C the control places, b before and
  a after (during),

      success measure  = Ra/Ca - Rb/Cb
      buffer measure   = Da/Ca - Db/Cb
      WDQ              = buffer measure / success measure
      total net effect = [Rb (Ca/Cb) - Ra] + [Db (Ca/Cb) - Da]

  A positive WDQ means diffusion of benefit; a negative one displacement (below -1: more
  displaced than prevented).
* Weighted displacement difference (Wheeler and Ratcliffe 2018): with T, Ct the patrolled and
  control places, D and Cd their buffers, 1 during and 0 before,

      WDD = (T1 - T0) - (Ct1 - Ct0) + (D1 - D0) - (Cd1 - Cd0),  Var = sum of the eight counts,

  with optional time weights (before and during of different lengths) as in their ptools. For
  harm, each sum is a weighted count Σ w N whose Poisson variance is Σ w² N (``variances``), not
  the sum itself; :func:`wdd_harm` combines per-crime-type WDDs with harm weights (Wheeler 2020):
  estimate Σ w_k WDD_k, variance Σ w_k² Var_k.

Buffers: ring k of a place is the cells k steps from its cells (k = 1 .. rings), minus every
place's own cells. A cell within reach of several places goes to its nearest ring; a cell that
is equally near a patrolled and a control place is left out (it would count for both arms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells


@dataclass
class WDQ:
    success_measure: float
    buffer_measure: float
    wdq: float | None
    total_net_effect: float

    def as_dict(self) -> dict:
        return asdict(self)


def wdq(r_before: float, r_after: float, d_before: float, d_after: float, c_before: float, c_after: float) -> WDQ:
    """Weighted displacement quotient (Bowers and Johnson 2003) of target R, buffer D and control C counts.

    Parameters
    ----------
    r_before, r_after : crimes in the target area before and after.
    d_before, d_after : crimes in the buffer around it.
    c_before, c_after : crimes in the control area (both above zero: the quotient divides by them).

    Returns
    -------
    WDQ
        The success measure, the buffer measure, the quotient (None where the success measure is
        zero) and the total net effect, in crimes.
    """
    if c_before <= 0 or c_after <= 0:
        raise ValidationError("the WDQ needs crimes in the control area both before and after (it divides by them)")
    success = r_after / c_after - r_before / c_before
    buffer = d_after / c_after - d_before / c_before
    tne = (r_before * (c_after / c_before) - r_after) + (d_before * (c_after / c_before) - d_after)
    return WDQ(success_measure=success, buffer_measure=buffer, wdq=buffer / success if success != 0 else None,
               total_net_effect=tne)


@dataclass
class WDD:
    local: float
    local_se: float
    displacement: float
    displacement_se: float
    total: float
    total_se: float
    z: float
    ci: tuple[float, float]

    def as_dict(self) -> dict:
        return {**asdict(self), "ci": list(self.ci)}


Pair = tuple[float, float]


def wdd(treated: Pair, control: Pair, disp_treated: Pair = (0, 0), disp_control: Pair = (0, 0),
        time_weights: Pair = (1, 1), level: float = 0.95, *,
        variances: tuple[Pair, Pair, Pair, Pair] | None = None) -> WDD:
    """Weighted displacement difference; a negative WDD is fewer crimes (or less harm).

    Parameters
    ----------
    treated, control : (before, during) sums in the patrolled and the control places.
    disp_treated, disp_control : (before, during) sums in their buffers.
    time_weights : lengths of before and during (e.g. weeks); sums are divided by them.
    level : the interval's coverage.
    variances : the Poisson variances of the eight sums, as ``(treated, control, disp_treated,
        disp_control)`` pairs; None for counts (each count its own variance). For harm, Σ w² of the
        harm weights in each sum.

    Returns
    -------
    WDD
        Local, displacement and total estimates with standard errors, z and the interval of the total.
    """
    wb, wa = time_weights
    if wb <= 0 or wa <= 0:
        raise ValidationError(f"time_weights={time_weights!r} must both be above 0 (the lengths of before and during)",
                              arguments="time_weights")
    vt, vc, vdt, vdc = variances if variances is not None else (treated, control, disp_treated, disp_control)

    def part(t, c, v_t, v_c):
        est = (t[1] / wa - t[0] / wb) - (c[1] / wa - c[0] / wb)
        var = v_t[1] / wa**2 + v_t[0] / wb**2 + v_c[1] / wa**2 + v_c[0] / wb**2
        return est, var

    local, var_local = part(treated, control, vt, vc)
    disp, var_disp = part(disp_treated, disp_control, vdt, vdc)
    return _wdd_result(local, var_local, disp, var_disp, level)


def wdd_harm(parts: list[WDD], weights: list[float], level: float = 0.95) -> WDD:
    """Harm-weighted WDD over crime types (Wheeler 2020; ptools ``wdd_harm``).

    Parameters
    ----------
    parts : one :func:`wdd` per crime type, on its counts.
    weights : the harm weight of each type (e.g. Cambridge Crime Harm Index days).
    level : the interval's coverage.

    Returns
    -------
    WDD
        Σ w_k WDD_k for the local, displacement and total parts, each with variance Σ w_k² Var_k.
    """
    w = np.asarray(weights, float)
    if len(parts) != w.size or not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(f"weights={list(weights)!r}: give one finite weight of at least 0 per crime type "
                              f"({len(parts)} types)", arguments="weights")
    local = float(sum(wk * p.local for wk, p in zip(w, parts, strict=True)))
    disp = float(sum(wk * p.displacement for wk, p in zip(w, parts, strict=True)))
    var_local = float(sum(wk**2 * p.local_se**2 for wk, p in zip(w, parts, strict=True)))
    var_disp = float(sum(wk**2 * p.displacement_se**2 for wk, p in zip(w, parts, strict=True)))
    return _wdd_result(local, var_local, disp, var_disp, level)


def _wdd_result(local: float, var_local: float, disp: float, var_disp: float, level: float) -> WDD:
    total, var_total = local + disp, var_local + var_disp
    se = float(np.sqrt(var_total))
    z = total / se if se > 0 else float("nan")
    q = float(stats.norm.ppf(0.5 + level / 2))
    return WDD(local=float(local), local_se=float(np.sqrt(var_local)), displacement=float(disp),
               displacement_se=float(np.sqrt(var_disp)), total=float(total), total_se=se, z=float(z),
               ci=(total - q * se, total + q * se))


def buffer_rings(members: pd.DataFrame, arm_of: dict[str, bool], rings: int) -> pd.DataFrame:
    """Cells of each place's buffer rings: hotspot_id, ring (1..rings), h3_cell, treated.

    ``arm_of`` maps each place to True (patrolled) or False (control).
    """
    if rings < 1:
        raise ValidationError(f"rings={rings!r} must be at least 1", arguments="rings")
    cells = h3cells.from_strings(members["h3_cell"].tolist())
    own = set(cells.tolist())
    best: dict[int, tuple[int, set]] = {}
    for place, group in members.groupby("hotspot_id", sort=False):
        base = h3cells.from_strings(group["h3_cell"].tolist())
        inner = set(base.tolist())
        for k in range(1, rings + 1):
            reach = set(h3cells.k_ring(base, k).tolist())
            for c in reach - inner - own:
                ring, claims = best.get(c, (rings + 1, set()))
                if k < ring:
                    best[c] = (k, {place})
                elif k == ring:
                    claims.add(place)
            inner = reach
    rows = []
    for c, (ring, claims) in best.items():
        arms = {arm_of[p] for p in claims}
        if len(arms) == 1:
            rows.append((sorted(claims)[0], ring, c, arms.pop()))
    frame = pd.DataFrame(rows, columns=["hotspot_id", "ring", "cell", "treated"])
    frame["h3_cell"] = h3cells.to_strings(frame["cell"].to_numpy(np.uint64)) if len(frame) else []
    return frame.drop(columns="cell").sort_values(["ring", "hotspot_id", "h3_cell"], ignore_index=True)
