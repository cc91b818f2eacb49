"""Session fixtures: a synthetic year and two consecutive weeks of hotspots, shared by the weekly and map tests."""

import datetime as dt

import pandas as pd
import pytest

from hotspots.crime.offences import vocabulary
from hotspots.geo.areas import NamedAreas
from hotspots.geo.periods import Calendar
from hotspots.places.weekly import weekly_hotspots
from hotspots.synth import SynthParams, generate, synthetic_npus

CALENDAR = Calendar("week", dt.date(2024, 1, 1), 28, "Europe/London")


@pytest.fixture(scope="session")
def city(force_area):
    """A synthetic year as stored incidents look (exact times, knife flag, victim age)."""
    inc = generate(SynthParams(seed=3, incidents=30_000), force_area).incidents
    t = pd.to_datetime(inc["occurred_at"], utc=True)
    return inc.assign(occurred_from=t, occurred_to=t, offence_group=vocabulary().group_of(inc["offence"].to_numpy(object)))


@pytest.fixture(scope="session")
def npus(force_area):
    frame = synthetic_npus(force_area, 8, 3)
    return NamedAreas(frame.reset_index(drop=True), "npu")


@pytest.fixture(scope="session")
def weeks(city, force_area, npus):
    """Two consecutive weeks, the second following the first.

    The floor is an expected count of one incident over the history: on this sparse synthetic year
    (30,000 incidents) the default Gi* floor keeps only its ten strongest places, too few for the
    rosters, trials and API built on these weeks; tests/test_evidence_floor.py tests the floors.
    """
    cells = force_area.cells(10)
    period = CALENDAR.period_of(dt.date(2024, 11, 4))
    common = dict(calendar=CALENDAR, resolution=10, crs="EPSG:27700", permutations=9_999, areas=npus, area_min=2,
                  min_cells=3, max_cells=40, evidence="expected", min_expected=1.0)
    first = weekly_hotspots(city, cells, period=period, next_number=1, **common)
    second = weekly_hotspots(city, cells, period=period + 1, previous=first.hotspot_set, hysteresis=0.2, **common)
    return first, second


