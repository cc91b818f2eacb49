"""Session fixtures for the predictor: two synthetic years counted on resolution-9 cells."""

import datetime as dt

import pandas as pd
import pytest

from hotspots.crime.offences import vocabulary
from hotspots.geo.periods import Calendar
from hotspots.synth import SynthParams, generate

TACTICAL = Calendar("tactical", dt.date(2024, 1, 1), 28, "Europe/London")


def as_stored(incidents: pd.DataFrame) -> pd.DataFrame:
    """Synthetic incidents in the shape the store and the readers give (exact times as intervals)."""
    t = pd.to_datetime(incidents["occurred_at"], utc=True)
    return incidents.assign(occurred_from=t, occurred_to=t,
                            offence_group=vocabulary().group_of(incidents["offence"].to_numpy(object)))


@pytest.fixture(scope="session")
def two_years(force_area):
    return as_stored(generate(SynthParams(seed=11, incidents=40_000, days=730), force_area).incidents)


@pytest.fixture(scope="session")
def history(two_years, force_area):
    from models.features import CellHistory
    from models.target import parse_target

    return CellHistory(two_years, force_area.cells(9), TACTICAL, parse_target("knife_syv"), "EPSG:27700")
