"""Session fixtures for the patrol tests: a force-wide hotspot set, its incidents, and resources that suffice."""

import datetime as dt

import pandas as pd
import pytest

from hotspots.geo import cells as h3cells
from hotspots.patrol import PatrolResources, assign_npus, hour_of_week_profiles

PERIOD_START = dt.date(2024, 11, 11)  # the Monday after the weekly fixtures' first week


def unit_spec(callsign, mode="vehicle", shifts=None, base=None):
    spec = {"callsign": callsign, "mode": mode, "shifts": shifts or {"daily": "12:00-24:00"}}
    return spec | ({"base": base} if base else {})


def ample_resources(npu_names, units=6, funded_hours=700.0):
    """Enough units and hours for every hotspot's dosage: half on foot, half in vehicles, evening and night shifts."""
    return PatrolResources.from_dict({"npu": [
        {"name": n, "funded_hours": funded_hours, "unit": [
            unit_spec(f"N{i}-{k}", "foot" if k % 2 else "vehicle",
                      {"daily": "12:00-22:00"} if k % 3 else {"mon-thu": "16:00-24:00", "fri-sat": "18:00-04:00",
                                                               "sun": "14:00-22:00"})
            for k in range(units)]}
        for i, n in enumerate(npu_names)]})


@pytest.fixture(scope="session")
def timed_city(city):
    """The synthetic year as the store returns it: H3 cells and exact times."""
    cells = h3cells.to_strings(h3cells.points_to_cells(city["lon"].to_numpy(), city["lat"].to_numpy(), 10))
    return city.assign(h3_cell=cells, time_precision="exact")


@pytest.fixture(scope="session")
def guardian(weeks, npus, timed_city):
    """(hotspots with their NPU, resources, profiles, harm priority) for a force-wide set."""
    hs = weeks[0].hotspot_set
    resources = ample_resources(npus.names)
    hot = hs.hotspots.assign(npu=assign_npus(hs.hotspots, resources, npus))
    history = timed_city[timed_city["occurred_from"] < pd.Timestamp(PERIOD_START, tz="UTC")]
    profiles, _ = hour_of_week_profiles(history, hs.members, hot["hotspot_id"].tolist(), "Europe/London")
    return hot, resources, profiles, hot["harm"].fillna(0).to_numpy(float)
