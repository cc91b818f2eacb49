"""The roster's clock: minutes from the start of the period, and what local time each minute is.

Rosters are planned on whole minutes counted from local midnight of the period's first day, in
absolute time, so a shift over a clock change is as long as it really is. Each minute knows its
local day and local hour of the week (0 = Monday 00:00-01:00), which is what shifts and risk
profiles are written in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.patrol.resources import Unit


@dataclass
class PeriodClock:
    """``days`` local days from ``start`` in ``timezone``."""

    start: dt.date
    days: int
    timezone: str
    origin: pd.Timestamp = field(init=False)
    minutes: int = field(init=False)
    hour_of_week: np.ndarray = field(init=False, repr=False)
    day_bounds: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if not 1 <= self.days <= 366:
            raise ValidationError(f"days={self.days!r} must be 1 to 366 (a tactical period is 28)", arguments="days")
        self.origin = self.at(0, 0)
        self.day_bounds = np.array([self.minute_of(self.at(d, 0)) for d in range(self.days + 1)], np.int64)
        self.minutes = int(self.day_bounds[-1])
        local = (self.origin + pd.to_timedelta(np.arange(self.minutes), unit="min")).tz_convert(self.timezone)
        self.hour_of_week = (local.day_of_week * 24 + local.hour).to_numpy(np.int16)

    def at(self, day: int, minute_of_day: int) -> pd.Timestamp:
        """The UTC instant of a local wall-clock minute (day 0 is ``start``; minutes may pass 1440)."""
        wall = dt.datetime.combine(self.start + dt.timedelta(days=day), dt.time()) + dt.timedelta(minutes=minute_of_day)
        return pd.Timestamp(wall.replace(tzinfo=ZoneInfo(self.timezone))).tz_convert("UTC")

    def minute_of(self, instant: pd.Timestamp) -> int:
        return int((instant - self.origin) // pd.Timedelta(minutes=1))

    def instant(self, minute: np.ndarray | int) -> pd.DatetimeIndex | pd.Timestamp:
        return self.origin + pd.to_timedelta(minute, unit="min")

    def day_of(self, minute: np.ndarray) -> np.ndarray:
        """Local day index of each minute (0 = the period's first day)."""
        return np.searchsorted(self.day_bounds, minute, side="right") - 1

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day))

    @property
    def end(self) -> dt.date:
        """The last day of the period (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    def shift_intervals(self, unit: Unit) -> np.ndarray:
        """(n, 2) [start, end) minutes of every shift of ``unit`` that overlaps the period, clipped to it."""
        rows = []
        # A shift that started the evening before the period may still run into its first morning.
        for day in range(-1, self.days):
            weekday = self.date(day).weekday()
            for s in unit.shifts:
                if s.weekday == weekday:
                    a = self.minute_of(self.at(day, s.start_minute))
                    b = self.minute_of(self.at(day, s.end_minute))
                    a, b = max(a, 0), min(b, self.minutes)
                    if b > a:
                        rows.append((a, b))
        if not rows:
            return np.empty((0, 2), np.int64)
        iv = np.array(sorted(rows), np.int64)
        merged = [list(iv[0])]
        for a, b in iv[1:]:  # overlapping or touching shifts are one stretch on duty
            if a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return np.array(merged, np.int64)

    def coverage(self, intervals: list[np.ndarray]) -> np.ndarray:
        """Boolean per minute: some unit is on shift."""
        on = np.zeros(self.minutes + 1, np.int32)
        for iv in intervals:
            np.add.at(on, iv[:, 0], 1)
            np.add.at(on, iv[:, 1], -1)
        return np.cumsum(on)[:-1] > 0
