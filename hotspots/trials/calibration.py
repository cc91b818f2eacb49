"""How each interval in a trial report behaved in the project's own null simulations.

``benchmarks/bench_trials.py`` simulates trials on the synthetic city with no patrol effect and
with a known one, and writes ``data/trials/null_calibration.csv``: for each outcome (count,
harm) and each interval, the share of null trials in which its 5% test rejected (its type I
error), with its Monte Carlo standard error, and the share of effect trials in which its 95%
interval covered the true rate ratio. A report quotes an interval only if its type I error lies
within :data:`QUOTABLE` (3.5% to 6.5%); the others are shown and marked not to be quoted.

The simulations are of one design (blocked, 40 places, 12 weeks before and 12 during, violent
crime at a force's rate); a trial much smaller or of another design may behave otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.config import SHIPPED_DATA

CALIBRATION_FILE = SHIPPED_DATA / "trials" / "null_calibration.csv"
CALIBRATION_COLUMNS = ["outcome", "interval", "type_i_error", "type_i_error_se", "null_trials", "coverage",
                       "coverage_se", "effect_trials", "design", "simulated_on"]
#: The type I errors of a 5% test that a report may quote.
QUOTABLE = (0.035, 0.065)
#: The report's intervals, by their key in ``null_calibration.csv``.
INTERVALS = {
    "primary": "rate ratio, Poisson QL on place x phase sums (primary)",
    "poisson": "rate ratio, weekly Poisson, SEs clustered by place",
    "negative_binomial": "rate ratio, weekly negative binomial",
    "rirr": "relative incidence rate ratio (Wilson)",
    "did": "difference in differences per week (the local WDD)",
    "randomisation": "randomisation test",
}


def null_calibration(path: str | Path = CALIBRATION_FILE) -> pd.DataFrame:
    """The stored simulation results (CALIBRATION_COLUMNS); empty if the file is missing."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    return pd.read_csv(path)


def calibration_for(outcome: str, table: pd.DataFrame | None = None) -> dict:
    """What the report states about its intervals for ``outcome`` (count or harm).

    Returns
    -------
    dict
        ``band`` (the quotable type I errors), ``design`` and ``simulated_on`` of the runs, and
        ``intervals``: per interval key, its type I error with Monte Carlo SE, the coverage of
        its 95% interval where simulated, and ``quote`` (True inside the band); an interval the
        simulations did not check is absent.
    """
    table = null_calibration() if table is None else table
    rows = table[table["outcome"] == outcome]
    intervals = {}
    for r in rows.itertuples(index=False):
        rate = float(r.type_i_error)
        coverage = None if pd.isna(r.coverage) else float(r.coverage)
        intervals[r.interval] = {
            "type_i_error": rate, "type_i_error_se": float(r.type_i_error_se), "null_trials": int(r.null_trials),
            "coverage": coverage, "quote": bool(QUOTABLE[0] <= rate <= QUOTABLE[1]),
        }
    first = rows.iloc[0] if len(rows) else None
    return {"band": list(QUOTABLE), "design": None if first is None else str(first["design"]),
            "simulated_on": None if first is None else str(first["simulated_on"]), "intervals": intervals}


def calibration_rows(sims: pd.DataFrame, *, true_irr: float, design: str, simulated_on: str) -> pd.DataFrame:
    """CALIBRATION_COLUMNS from simulated trials (one row each: ``reduction``, and for each
    interval ``<prefix><key>_p``, ``_low``, ``_high``; ``harm_`` prefixes the harm outcome).

    A DiD's interval has no true value to cover in the city (its expected size depends on the
    places drawn), so only its type I error is given (the interval excluding 0 under the null).
    """
    null, effect = sims[sims["reduction"] == 0], sims[sims["reduction"] > 0]
    rows = []
    for outcome, prefix in (("count", ""), ("harm", "harm_")):
        for key, column in (("primary", "primary"), ("poisson", "poisson"), ("negative_binomial", "nb"),
                            ("rirr", "rirr"), ("did", "did"), ("randomisation", "ri")):
            if key == "did" and f"{prefix}did_low" in null:
                rejected = (null[f"{prefix}did_low"] > 0) | (null[f"{prefix}did_high"] < 0)
            elif f"{prefix}{column}_p" in null and null[f"{prefix}{column}_p"].notna().any():
                rejected = null[f"{prefix}{column}_p"].dropna() < 0.05
            else:
                continue
            rate, n = float(rejected.mean()), int(rejected.size)
            coverage = coverage_se = np.nan
            m = 0
            if key not in ("did", "randomisation") and f"{prefix}{column}_low" in effect:
                covered = ((effect[f"{prefix}{column}_low"] <= true_irr)
                           & (effect[f"{prefix}{column}_high"] >= true_irr))[effect[f"{prefix}{column}_low"].notna()]
                m = int(covered.size)
                if m:
                    coverage = float(covered.mean())
                    coverage_se = float(np.sqrt(coverage * (1 - coverage) / m))
            rows.append({"outcome": outcome, "interval": key, "type_i_error": rate,
                         "type_i_error_se": float(np.sqrt(rate * (1 - rate) / n)) if n else np.nan,
                         "null_trials": n, "coverage": coverage, "coverage_se": coverage_se, "effect_trials": m,
                         "design": design, "simulated_on": simulated_on})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
