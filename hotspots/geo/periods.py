"""Tactical periods, weeks and months, and aoristic apportionment of uncertain times.

All arithmetic is on *local day numbers* (days since 1970-01-01 in the force's time zone),
so a 28-day tactical period is 28 calendar days whatever the clocks do. An incident is an
interval of local days ``[start_day, end_day)``: one day for an exact time or a known day,
the whole month for data.police.uk records. Counting an interval in a period gives it the
share of its days that fall in that period (aoristic apportionment); month-only records are
never placed on a made-up day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_positive

PERIOD_KINDS = ("tactical", "week", "month")
_EPOCH = dt.date(1970, 1, 1)


def local_day_numbers(instants: pd.Series | pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Tz-aware instants to local day numbers (int64 days since 1970-01-01 in ``timezone``)."""
    idx = pd.DatetimeIndex(instants)
    if idx.tz is None:
        raise ValidationError("times must be timezone-aware; localise them first")
    local = idx.tz_convert(timezone).tz_localize(None)
    return local.values.astype("datetime64[D]").astype(np.int64)


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def day_from_number(n: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(n))


@dataclass(frozen=True)
class Calendar:
    """A run of periods: tactical (``length_days`` from ``anchor``), weeks, or calendar months.

    Parameters
    ----------
    kind : "tactical", "week" or "month".
    anchor : a first day of a period; periods run both ways from it (ignored for months).
    length_days : tactical period length in days (28 by default; weeks are always 7).
    timezone : IANA zone that days are counted in.
    """

    kind: str = "tactical"
    anchor: dt.date = dt.date(2024, 1, 1)
    length_days: int = 28
    timezone: str = "Europe/London"

    def __post_init__(self):
        check_choice(self.kind, PERIOD_KINDS, "period")
        check_positive(self.length_days, "period_days", "days")
        if self.kind == "week":
            object.__setattr__(self, "length_days", 7)

    # -- period index <-> day numbers ------------------------------------------------------
    def period_of_day(self, days: np.ndarray) -> np.ndarray:
        """Index of the period holding each local day number (int64 array)."""
        days = np.asarray(days, dtype=np.int64)
        if self.kind == "month":
            months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            return months
        return np.floor_divide(days - day_number(self.anchor), self.length_days)

    def start_day(self, periods: np.ndarray) -> np.ndarray:
        """First local day number of each period."""
        periods = np.asarray(periods, dtype=np.int64)
        if self.kind == "month":
            return periods.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        return day_number(self.anchor) + periods * self.length_days

    def end_day(self, periods: np.ndarray) -> np.ndarray:
        """Day number just after each period (exclusive end)."""
        return self.start_day(np.asarray(periods, dtype=np.int64) + 1)

    def period_of(self, when: dt.date | dt.datetime) -> int:
        if isinstance(when, dt.datetime):
            when = pd.Timestamp(when).tz_convert(self.timezone).date() if when.tzinfo else when.date()
        return int(self.period_of_day(np.array([day_number(when)]))[0])

    def bounds(self, period: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Local-midnight start and (exclusive) end of a period, tz-aware."""
        s = day_from_number(self.start_day(np.array([period]))[0])
        e = day_from_number(self.end_day(np.array([period]))[0])
        return pd.Timestamp(s, tz=self.timezone), pd.Timestamp(e, tz=self.timezone)

    def label(self, periods: np.ndarray) -> np.ndarray:
        """Readable labels: '2017-01-09..2017-02-05' (tactical, week) or '2017-01' (month)."""
        periods = np.asarray(periods, dtype=np.int64)
        if self.kind == "month":
            return np.datetime_as_string(periods.astype("datetime64[M]"), unit="M").astype(object)
        first = np.datetime_as_string(self.start_day(periods).astype("datetime64[D]"))
        last = np.datetime_as_string((self.end_day(periods) - 1).astype("datetime64[D]"))
        return np.char.add(np.char.add(first, ".."), last).astype(object)

    # -- apportionment -----------------------------------------------------------------------
    def apportion(self, start_day: np.ndarray, end_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split day intervals ``[start_day, end_day)`` over the periods they overlap.

        Returns ``(row, period, weight)``: for each input row, one entry per overlapped
        period, with weight = days in that period / days in the interval. Weights of a row
        sum to 1.
        """
        start_day = np.asarray(start_day, dtype=np.int64)
        end_day = np.asarray(end_day, dtype=np.int64)
        if np.any(end_day <= start_day):
            raise ValidationError("an occurrence interval ends before it starts; check occurred_from/occurred_to")
        first = self.period_of_day(start_day)
        last = self.period_of_day(end_day - 1)
        spans = last - first + 1
        rows = np.repeat(np.arange(start_day.size), spans)
        offsets = np.arange(rows.size) - np.repeat(np.cumsum(spans) - spans, spans)
        periods = first[rows] + offsets
        lo = np.maximum(start_day[rows], self.start_day(periods))
        hi = np.minimum(end_day[rows], self.end_day(periods))
        weight = (hi - lo) / (end_day[rows] - start_day[rows])
        return rows, periods, weight


def apportion_days(start_day: np.ndarray, end_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread each interval evenly over its days: ``(row, day, weight)`` with weights 1/ndays."""
    start_day = np.asarray(start_day, dtype=np.int64)
    end_day = np.asarray(end_day, dtype=np.int64)
    spans = end_day - start_day
    if np.any(spans <= 0):
        raise ValidationError("an occurrence interval ends before it starts; check occurred_from/occurred_to")
    rows = np.repeat(np.arange(start_day.size), spans)
    offsets = np.arange(rows.size) - np.repeat(np.cumsum(spans) - spans, spans)
    return rows, start_day[rows] + offsets, 1.0 / spans[rows]
