import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from hotspots.core.errors import HotspotsError
from hotspots.crime.aggregate import CELL_COLUMNS, aggregate_cells, top_cells, write_cell_table
from hotspots.geo import cells as C
from hotspots.geo.periods import Calendar


def incidents(rows):
    frame = pd.DataFrame(rows, columns=["occurred_from", "occurred_to", "lon", "lat", "offence_group", "harm_weight",
                                        "knife_enabled", "victim_under_25"])
    for c in ("occurred_from", "occurred_to"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def test_month_incident_apportioned_exact_one_whole():
    frame = incidents([
        # January 2024 as a month interval, local midnights (GMT in winter).
        ("2024-01-01T00:00Z", "2024-02-01T00:00Z", -1.8983, 52.4796, "robbery", 365.0, None, None),
        # An exact time late on 28 January local time.
        ("2024-01-28T23:30Z", "2024-01-28T23:30Z", -1.8983, 52.4796, "robbery", 365.0, True, True),
    ])
    table = aggregate_cells(frame, Calendar("tactical", dt.date(2024, 1, 1), 28), 10)
    assert list(table.columns) == CELL_COLUMNS
    assert table["period"].tolist() == ["2024-01-01..2024-01-28", "2024-01-29..2024-02-25"]
    assert table["incidents"].tolist() == pytest.approx([28 / 31 + 1, 3 / 31])
    assert table["harm"].sum() == pytest.approx(730.0)
    assert table["knife_enabled"].tolist() == [1.0, 0.0]
    assert table["period_start"].tolist() == [dt.date(2024, 1, 1), dt.date(2024, 1, 29)]


def test_totals_conserved_by_offence_group_and_resolution():
    rng = np.random.default_rng(3)
    n = 2000
    start = pd.Timestamp("2023-01-01T00:00Z") + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h")
    frame = incidents({
        "occurred_from": start, "occurred_to": start, "lon": rng.uniform(-2.0, -1.8, n),
        "lat": rng.uniform(52.4, 52.55, n), "offence_group": rng.choice(["robbery", "burglary"], n),
        "harm_weight": 2.0, "knife_enabled": None, "victim_under_25": None,
    })
    for res in (8, 10):
        for kind in ("tactical", "week", "month"):
            table = aggregate_cells(frame, Calendar(kind), res)
            assert table["incidents"].sum() == pytest.approx(n)
            assert table["harm"].sum() == pytest.approx(2 * n)
    merged = aggregate_cells(frame, Calendar(), 8, by_offence_group=False)
    assert set(merged["offence_group"]) == {"all"} and merged["incidents"].sum() == pytest.approx(n)
    # H3 cells do not nest exactly, so compare with the points indexed at resolution 8 directly.
    direct = pd.Series(C.to_strings(C.points_to_cells(frame["lon"], frame["lat"], 8))).value_counts()
    per_cell = merged.groupby("h3_cell")["incidents"].sum()
    assert per_cell.round(9).to_dict() == direct.astype(float).to_dict()


def test_empty_input_gives_empty_table():
    assert list(aggregate_cells(incidents([]), Calendar()).columns) == CELL_COLUMNS


def test_top_cells_and_outputs(tmp_path):
    frame = incidents([
        ("2024-01-05T12:00Z", "2024-01-05T12:00Z", -1.8983, 52.4796, "robbery", 365.0, None, None),
        ("2024-01-06T12:00Z", "2024-01-06T12:00Z", -1.8983, 52.4796, "robbery", 365.0, None, None),
        ("2024-01-06T12:00Z", "2024-01-06T12:00Z", -1.70, 52.45, "shoplifting", 1.0, None, None),
    ])
    table = aggregate_cells(frame, Calendar())
    top = top_cells(table, 5)
    assert top["incidents"].tolist() == [2.0, 1.0] and top["share_of_incidents"].sum() == pytest.approx(1.0)
    with pytest.raises(HotspotsError, match="by='crimes'"):
        top_cells(table, 5, by="crimes")
    csv = pd.read_csv(write_cell_table(table, tmp_path / "c.csv"))
    assert len(csv) == 2
    for ext in ("parquet", "geojson"):
        path = write_cell_table(table, tmp_path / f"c.{ext}")
        geo = gpd.read_parquet(path) if ext == "parquet" else gpd.read_file(path)
        assert len(geo) == 2 and (geo.geom_type == "Polygon").all() and geo.crs.to_epsg() == 4326
    with pytest.raises(HotspotsError, match="write .csv"):
        write_cell_table(table, tmp_path / "c.xlsx")
