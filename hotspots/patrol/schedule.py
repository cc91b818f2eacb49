"""Placing visits: random start times from the risk profile, on units that can really get there.

For one NPU at a time. Every visit is placed by exact conditional sampling: all start minutes
(on a ``step``-minute grid) at which some unit of the NPU could make the visit are found, given
its shifts, the visits it already has and the travel to and from them, and given the hotspot's
other visits (no two closer than ``min_gap`` after the end of the first). One start is drawn from
the hotspot's hour-of-week profile restricted to those minutes, and the visit goes to the unit
that can make it with the least extra travel (ties at random). So no roster is infeasible by
construction, and start times follow the profile wherever the units are free to follow it.

Visits are placed day by day in rounds (every hotspot's first visit of the day, in random order,
then every second visit, ...), so when units run short the shortfall is spread over hotspots
rather than falling on the last in a list. A visit that fits nowhere on its day is tried on the
hotspot's other patrol days; one that fits nowhere is a shortfall.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from hotspots.patrol.clock import PeriodClock


@dataclass
class UnitTimeline:
    """One unit's shifts ((k, 2) minutes) and its booked visits, kept sorted by start."""

    shifts: np.ndarray
    travel: np.ndarray  # (n, n) minutes between the NPU's hotspots for this unit's mode
    from_base: np.ndarray  # (n,) minutes from the unit's base to each hotspot (zeros without a base)
    starts: list[int] = field(default_factory=list)
    bookings: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, hotspot)

    def free_starts(self, h: int, lo: int, hi: int, length: int) -> list[tuple[int, int]]:
        """Inclusive ranges of start minutes in [lo, hi] at which this unit can visit hotspot ``h``."""
        out = []
        first = int(np.searchsorted(self.shifts[:, 1], lo, side="right"))
        for s, e in self.shifts[first:]:
            if s > hi:
                break
            i0, i1 = bisect.bisect_left(self.starts, s), bisect.bisect_left(self.starts, e)
            prev_end, prev_h = int(s), -1
            for bs, be, bh in self.bookings[i0:i1]:
                a = prev_end + (self.from_base[h] if prev_h < 0 else self.travel[prev_h, h])
                b = bs - length - self.travel[h, bh]
                if a <= b:
                    out.append((max(a, lo), min(b, hi)))
                prev_end, prev_h = be, bh
            a = prev_end + (self.from_base[h] if prev_h < 0 else self.travel[prev_h, h])
            b = int(e) - length - self.from_base[h]
            if a <= b:
                out.append((max(a, lo), min(b, hi)))
        return [(a, b) for a, b in out if a <= b]

    def extra_travel(self, h: int, t: int) -> int:
        """Travel added by putting a visit to ``h`` at ``t`` between this unit's neighbouring visits."""
        i = bisect.bisect_left(self.starts, t)
        shift = self.shifts[int(np.searchsorted(self.shifts[:, 1], t, side="right"))]
        prev = self.bookings[i - 1][2] if i > 0 and self.bookings[i - 1][0] >= shift[0] else -1
        nxt = self.bookings[i][2] if i < len(self.bookings) and self.bookings[i][0] < shift[1] else -1
        to_h = self.from_base[h] if prev < 0 else self.travel[prev, h]
        from_h = self.from_base[h] if nxt < 0 else self.travel[h, nxt]
        if prev >= 0 and nxt >= 0:
            was = self.travel[prev, nxt]
        else:
            was = self.from_base[nxt] if nxt >= 0 else self.from_base[prev] if prev >= 0 else 0
        return int(to_h + from_h - was)

    def book(self, h: int, t: int, length: int) -> None:
        i = bisect.bisect_left(self.starts, t)
        self.starts.insert(i, t)
        self.bookings.insert(i, (t, t + length, h))


@dataclass
class Placement:
    """The visits placed for one NPU: (unit, hotspot, start) rows and per-hotspot shortfall in visits."""

    unit: np.ndarray
    hotspot: np.ndarray
    start: np.ndarray
    unplaced: np.ndarray


def place_visits(clock: PeriodClock, timelines: list[UnitTimeline], profiles: np.ndarray, day_counts: np.ndarray,
                 patrol_days: np.ndarray, *, length: int, min_gap: int, most_per_day: int, step: int,
                 rng: np.random.Generator) -> Placement:
    """Place ``day_counts[h, d]`` visits of ``length`` minutes to each hotspot ``h`` on each local day ``d``.

    Parameters
    ----------
    clock : the period's local days and minutes.
    timelines : one per unit of the NPU: its shifts, travel times and bookings (updated in place).
    profiles : (n, 168) hour-of-week risk per hotspot; a visit's start is drawn from it.
    day_counts : (n, days) int, visits wanted per hotspot and day.
    patrol_days : (n, days) bool, where a visit may be moved when its own day is full.
    length, min_gap, step : visit length, least gap between visits to a hotspot, and the grid of
        start times, all in minutes.
    most_per_day : most visits a hotspot gets in a day.
    rng : the roster's random generator (seeded by the caller).

    Returns
    -------
    Placement
        Every placed visit (unit, hotspot, start minute) and, per hotspot, the visits that fitted nowhere.
    """
    n_h = day_counts.shape[0]
    hotspot_starts: list[list[int]] = [[] for _ in range(n_h)]
    placed = np.zeros_like(day_counts)
    rows: list[tuple[int, int, int]] = []

    def place(h: int, d: int) -> bool:
        lo, hi = int(clock.day_bounds[d]), int(clock.day_bounds[d + 1]) - 1
        grid = np.arange(lo, hi + 1, step)
        free = np.zeros((len(timelines), grid.size), bool)
        for u, tl in enumerate(timelines):
            for a, b in tl.free_starts(h, lo, hi, length):
                free[u, -(-(a - lo) // step):(b - lo) // step + 1] = True
        allowed = free.any(0)
        taken = hotspot_starts[h]
        reach = length + min_gap
        for o in taken[bisect.bisect_left(taken, lo - reach):bisect.bisect_right(taken, hi + reach)]:
            allowed &= (grid <= o - reach) | (grid >= o + reach)
        weight = profiles[h, clock.hour_of_week[grid]] * allowed
        total = weight.sum()
        if total <= 0:
            return False
        k = min(int(np.searchsorted(np.cumsum(weight), rng.random() * total, side="right")), grid.size - 1)
        t = int(grid[k])
        able = [u for u in rng.permutation(len(timelines)) if free[u, k]]
        unit = min(able, key=lambda u: timelines[u].extra_travel(h, t))
        timelines[unit].book(h, t, length)
        bisect.insort(taken, t)
        placed[h, d] += 1
        rows.append((unit, h, t))
        return True

    left_over = []
    for d in range(clock.days):
        for r in range(1, int(day_counts[:, d].max(initial=0)) + 1):
            for h in rng.permutation(np.flatnonzero(day_counts[:, d] >= r)):
                if not place(int(h), d):
                    left_over.append(int(h))
    unplaced = np.zeros(n_h, np.int64)
    for h in rng.permutation(np.asarray(left_over, np.int64)):
        days = [d for d in rng.permutation(clock.days) if patrol_days[h, d] and placed[h, d] < most_per_day]
        if not any(place(int(h), int(d)) for d in days):
            unplaced[h] += 1
    rows.sort(key=lambda r: (r[2], r[0]))
    arr = np.array(rows, np.int64).reshape(-1, 3)
    return Placement(unit=arr[:, 0], hotspot=arr[:, 1], start=arr[:, 2], unplaced=unplaced)


#: Travel minutes that stand for "not planned": no shift is this long, so no gap can hold the leg.
NO_LEG = 10**7


def travel_minutes(xy: np.ndarray, speed_kmh: float, detour: float, max_leg: float = np.inf) -> np.ndarray:
    """(n, n) whole minutes between every pair of points ``xy`` ((n, 2) metres), along streets.

    Legs longer than ``max_leg`` minutes become NO_LEG, so they are never planned.
    """
    minutes = _street_minutes(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]),
                              speed_kmh, detour)
    minutes[minutes > max_leg] = NO_LEG
    return minutes


def base_minutes(base_xy: np.ndarray | None, xy: np.ndarray, speed_kmh: float, detour: float) -> np.ndarray:
    if base_xy is None:
        return np.zeros(len(xy), np.int64)
    return _street_minutes(np.hypot(xy[:, 0] - base_xy[0], xy[:, 1] - base_xy[1]), speed_kmh, detour)


def _street_minutes(metres: np.ndarray, speed_kmh: float, detour: float) -> np.ndarray:
    """Whole minutes to cover straight-line ``metres`` along streets ``detour`` times longer."""
    return np.ceil(metres * detour / (speed_kmh * 1000 / 60)).astype(np.int64)
