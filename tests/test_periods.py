import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError
from hotspots.geo.periods import Calendar, apportion_days, day_number, local_day_numbers


def naive_apportion(cal: Calendar, start: int, end: int) -> dict[int, float]:
    """Slow twin: walk the days one by one."""
    out: dict[int, float] = {}
    for d in range(start, end):
        p = int(cal.period_of_day(np.array([d]))[0])
        out[p] = out.get(p, 0.0) + 1.0 / (end - start)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["tactical", "week", "month"]),
    st.lists(st.tuples(st.integers(15000, 21000), st.integers(1, 62)), min_size=1, max_size=40),
    st.integers(1, 40),
)
def test_apportion_matches_day_walk(kind, intervals, length):
    cal = Calendar(kind, dt.date(2024, 1, 1), length)
    start = np.array([s for s, _ in intervals])
    end = start + np.array([n for _, n in intervals])
    rows, periods, weights = cal.apportion(start, end)
    for i in range(len(intervals)):
        got = {int(p): w for p, w in zip(periods[rows == i], weights[rows == i], strict=True)}
        want = naive_apportion(cal, int(start[i]), int(end[i]))
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-12 for k in want)
    assert np.allclose(np.bincount(rows, weights, minlength=len(intervals)), 1.0)


def test_month_over_two_tactical_periods():
    cal = Calendar("tactical", dt.date(2024, 1, 1), 28)
    jan = day_number(dt.date(2024, 1, 1))
    feb = day_number(dt.date(2024, 2, 1))
    rows, periods, weights = cal.apportion(np.array([jan]), np.array([feb]))
    assert periods.tolist() == [0, 1]
    assert weights.tolist() == pytest.approx([28 / 31, 3 / 31])
    assert cal.label(periods).tolist() == ["2024-01-01..2024-01-28", "2024-01-29..2024-02-25"]


def test_periods_before_the_anchor_and_bounds_across_clock_change():
    cal = Calendar("tactical", dt.date(2024, 1, 1), 28)
    assert cal.period_of(dt.date(2023, 12, 31)) == -1
    start, end = cal.bounds(3)  # 2024-03-25 .. 2024-04-22, the clocks went forward on 31 March
    assert start == pd.Timestamp("2024-03-25", tz="Europe/London")
    assert end - start == pd.Timedelta(days=28) - pd.Timedelta(hours=1)


def test_local_days_use_the_force_time_zone():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London.
    t = pd.Series(pd.to_datetime(["2024-06-30T23:30:00Z"]))
    assert local_day_numbers(t, "Europe/London")[0] == day_number(dt.date(2024, 7, 1))
    with pytest.raises(HotspotsError, match="timezone-aware"):
        local_day_numbers(pd.Series(pd.to_datetime(["2024-06-30 23:30"])), "Europe/London")


def test_weeks_months_and_bad_kind():
    assert Calendar("week").length_days == 7
    m = Calendar("month")
    assert m.label(np.array([m.period_of(dt.date(2017, 3, 9))])).tolist() == ["2017-03"]
    with pytest.raises(HotspotsError, match="period='fortnight'"):
        Calendar("fortnight")


def test_apportion_days_spreads_evenly():
    rows, days, w = apportion_days(np.array([10, 20]), np.array([13, 21]))
    assert rows.tolist() == [0, 0, 0, 1] and days.tolist() == [10, 11, 12, 20]
    assert w.tolist() == pytest.approx([1 / 3] * 3 + [1.0])
    with pytest.raises(HotspotsError):
        apportion_days(np.array([5]), np.array([5]))
