"""Planned dosage: how many minutes each hotspot gets, and on which days.

An NPU's hotspot budget (its funded hours times the hotspot share) is split among its patrolled
hotspots in proportion to priority (harm, predicted risk, or the selection score), each held
between a floor and a cap that scale with the days it is patrolled. The split is the water-filling
solution: one multiplier ``lam`` with ``sum(clip(lam * priority, floor, cap)) == budget``.
"""

from __future__ import annotations

import numpy as np

from hotspots.core.errors import ValidationError

PRIORITIES = ("harm", "score", "risk", "equal")


def split_budget(priority: np.ndarray, floor: np.ndarray, cap: np.ndarray, budget: float) -> np.ndarray:
    """Minutes per hotspot: ``clip(lam * priority, floor, cap)`` summing to ``budget``.

    When the budget is below the sum of the floors every hotspot gets the same share of its floor;
    when it is above the sum of the caps every hotspot gets its cap (the rest is not spent here).
    A hotspot with no priority keeps its floor until every other one is at its cap. Shapes (n,) in, (n,) out.
    """
    priority = np.asarray(priority, float)
    floor = np.minimum(np.asarray(floor, float), cap)
    cap = np.asarray(cap, float)
    if priority.size == 0:
        return priority
    if np.any(priority < 0) or not np.all(np.isfinite(priority)):
        raise ValidationError("hotspot priorities must be finite and not negative")
    if budget <= floor.sum():
        return floor * (budget / floor.sum()) if floor.sum() > 0 else np.zeros_like(floor)
    if budget >= cap.sum():
        return cap.copy()
    # Scaled to at most 1 so lam stays finite; a zero priority becomes a tiny one so it fills last.
    priority = priority / priority.max() if priority.max() > 0 else np.ones_like(priority)
    priority = np.maximum(priority, 1e-9)
    lo, hi = 0.0, 1.0
    while np.clip(hi * priority, floor, cap).sum() < budget:
        hi *= 2
    for _ in range(200):  # bisection on a monotone sum; 200 halvings reach float precision
        mid = (lo + hi) / 2
        if np.clip(mid * priority, floor, cap).sum() < budget:
            lo = mid
        else:
            hi = mid
    return np.clip(hi * priority, floor, cap)


def visits_by_day(n_visits: int, day_weight: np.ndarray, most_per_day: int, rng: np.random.Generator) -> np.ndarray:
    """Spread ``n_visits`` over days in proportion to ``day_weight``, at most ``most_per_day`` a day.

    The expected share of each day is water-filled under the cap, then rounded by systematic
    sampling (one random offset), so the total is exact, each day gets the floor or ceiling of its
    expectation, and which days round up is random.
    """
    w = np.asarray(day_weight, float)
    counts = np.zeros(w.size, np.int64)
    open_days = w > 0
    n_visits = int(min(n_visits, most_per_day * open_days.sum()))
    if n_visits <= 0:
        return counts
    expected = np.zeros(w.size)
    remaining, free = float(n_visits), open_days.copy()
    while remaining > 1e-9 and free.any():
        share = np.where(free, w, 0.0) / w[free].sum() * remaining
        over = free & (expected + share > most_per_day)
        if not over.any():
            expected += share
            break
        remaining -= (most_per_day - expected[over]).sum()
        expected[over] = most_per_day
        free &= ~over
    cum = np.concatenate([[0.0], np.cumsum(expected)])
    cum *= n_visits / cum[-1]
    u = rng.random()
    marks = np.floor(cum + u)
    counts = np.diff(marks).astype(np.int64)
    return np.minimum(counts, most_per_day)
