"""National scale from a data set: GeoParquet by force and month written by ingest, read back by every
reader, and KDE, features and training part by part where each worker reads only its own halo."""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_fixtures import TACTICAL

from hotspots.core.errors import HotspotsError
from hotspots.density.surface import hotspot_kde
from hotspots.national.dataset import (
    IncidentDataset,
    dataset_incidents,
    read_incidents_dataset,
    write_incidents_dataset,
)
from hotspots.national.kde import dataset_kde
from models.features import CellHistory
from models.national.features import partitioned_features
from models.national.training import train_national
from models.target import parse_target

CRS = "EPSG:27700"


def everything(data: IncidentDataset) -> pd.DataFrame:
    """Every incident of the data set, as one machine would hold them."""
    return data.read(None).drop(columns=["force", "month"]).sort_values("incident_id", ignore_index=True)


def by_cell(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("h3_cell", ignore_index=True)


def test_the_data_set_is_partitioned_by_force_and_local_month_and_written_once(tmp_path, force_dataset):
    _, frame = force_dataset
    rows = frame.iloc[:500].copy()
    rows.loc[rows.index[0], "occurred_from"] = pd.Timestamp("2024-06-30T23:30Z")  # 1 July 00:30 in London
    written = write_incidents_dataset(rows, tmp_path, "west-midlands", CRS)
    months = sorted(p.parent.name for p in written)
    assert "month=2024-07" in months and "month=2024-06" not in months
    assert write_incidents_dataset(rows, tmp_path, "west-midlands", CRS) == []  # the same rows add nothing
    # An overlapping export adds only the incidents not there yet.
    more = write_incidents_dataset(frame.iloc[250:750], tmp_path, "west-midlands", CRS)
    data = IncidentDataset(tmp_path)
    assert len(data.read(["incident_id"])) == 750 and len(more) >= 1
    write_incidents_dataset(frame.iloc[:1], tmp_path, "city-of-london", CRS)
    every = read_incidents_dataset(tmp_path)
    assert len(every) == 751 and set(every["force"]) == {"west-midlands", "city-of-london"}
    january = read_incidents_dataset(tmp_path, forces=["west-midlands"], months=["2024-01"], columns=["incident_id"])
    assert set(january.columns) == {"incident_id", "force", "month"} and set(january["month"]) == {"2024-01"}
    import geopandas as gpd

    assert gpd.read_parquet(written[0]).crs.to_epsg() == 4326  # each file is GeoParquet
    with pytest.raises(HotspotsError, match="force='West Midlands'"):
        write_incidents_dataset(rows, tmp_path, "West Midlands", CRS)
    with pytest.raises(HotspotsError, match="holds x/y in EPSG:27700"):
        write_incidents_dataset(rows, tmp_path, "west-midlands", "EPSG:32630")
    with pytest.raises(HotspotsError, match="not in the data set; it holds: city-of-london, west-midlands"):
        dataset_incidents(IncidentDataset(tmp_path), forces=["kent"])
    with pytest.raises(HotspotsError, match="is not an incident data set"):
        IncidentDataset(tmp_path / "force=west-midlands")


@given(corner=st.tuples(st.floats(395_000, 425_000), st.floats(275_000, 300_000)),
       size=st.tuples(st.floats(0, 12_000), st.floats(0, 12_000)))
@settings(max_examples=25, deadline=None)
def test_a_box_read_takes_exactly_the_incidents_in_it(force_dataset, corner, size):
    data, frame = force_dataset
    box = (corner[0], corner[0] + size[0], corner[1], corner[1] + size[1])
    got = data.read(["incident_id"], box=box)
    inside = frame[(frame.x >= box[0]) & (frame.x <= box[1]) & (frame.y >= box[2]) & (frame.y <= box[3])]
    assert sorted(got["incident_id"]) == sorted(inside["incident_id"])


def test_files_far_from_a_box_are_never_opened(force_dataset):
    data, frame = force_dataset
    east = data.select_files(box=(frame["x"].max() - 10, frame["x"].max(), 0.0, 1e7))
    assert east and all("west-midlands-east" in str(f) for f in east)


@pytest.mark.parametrize("options", [
    {"bandwidth": 400.0},
    {"bandwidth": 300.0, "weight": "harm", "half_life_days": 30.0, "kernel": "epanechnikov"},
    {"bandwidth": 250.0, "kernel": "gaussian", "reference_time": "2024-06-30", "since": "2024-03-01"},
])
def test_kde_from_the_data_set_on_a_cluster_equals_one_machine(client, force_dataset, force_area, options):
    data, _ = force_dataset
    options = dict(options)
    since = pd.Timestamp(options.pop("since"), tz="UTC") if "since" in options else None
    cells = force_area.cells(9)
    whole = hotspot_kde(dataset_incidents(data, since=since), cells, crs=CRS, **options)
    parts = dataset_kde(data, cells, since=since, parent_resolution=6, client=client, **options)
    a, b = by_cell(whole), by_cell(parts)
    assert a["h3_cell"].tolist() == b["h3_cell"].tolist()
    np.testing.assert_allclose(b["density_per_km2"], a["density_per_km2"], rtol=1e-12, atol=1e-12)
    assert b.attrs["total_weight"] == pytest.approx(a.attrs["total_weight"], rel=1e-12)
    assert b.attrs["incidents"] == a.attrs["incidents"] and b.attrs["parts"] > 10
    assert b.attrs["largest_halo_incidents"] < a.attrs["incidents"]  # no part read the whole data set


def test_features_by_parts_on_a_cluster_equal_the_whole_region(client, force_dataset, force_area):
    data, _ = force_dataset
    cells, target = force_area.cells(9), parse_target("knife_syv")
    whole = CellHistory(everything(data), cells, TACTICAL, target, CRS)
    periods = [whole.first_period + 4, whole.last_period]
    got_cells, features, observed = partitioned_features(data, cells, TACTICAL, target, periods,
                                                         parent_resolution=6, client=client)
    np.testing.assert_array_equal(got_cells, whole.cells)
    for period, got, seen in zip(periods, features, observed, strict=True):
        np.testing.assert_allclose(got, whole.features(period, np.float64), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(seen, whole.observed(period))


def test_without_a_halo_the_part_features_would_differ(force_dataset, force_area, monkeypatch):
    """The equality above is not vacuous: with no halo, cells at part edges lose neighbours and kernel mass."""
    import models.national.features as national

    data, _ = force_dataset
    cells, target = force_area.cells(9), parse_target("knife_syv")
    whole = CellHistory(everything(data), cells, TACTICAL, target, CRS)
    period = whole.last_period
    monkeypatch.setattr(national, "_halo_margin_m", lambda config, resolution: (0.0, 0.0))
    _, (got,), _ = partitioned_features(data, cells, TACTICAL, target, [period], parent_resolution=6)
    names = whole.feature_names
    wrong = ~np.isclose(got, whole.features(period, np.float64), rtol=1e-9, atol=1e-9)
    assert wrong[:, names.index("near1_lag1")].any() and wrong[:, names.index("kde_600m")].any()


def test_national_training_fits_a_stratified_sample_backtested_and_says_so(client, force_dataset, force_area, store):
    from hotspots.services.models import load_model, register
    from models.backtest import MODEL, rolling_backtest
    from models.card import model_card
    from models.predictor import RiskModel
    from models.training import history_before

    data, _ = force_dataset
    cells, target = force_area.cells(8), parse_target("knife_syv")
    model_settings = RiskModel(max_iter=30, zero_rows_per_period=500)
    trained = train_national(data, cells, TACTICAL, target, model=model_settings, backtest_periods=2, parent_resolution=5,
                             client=client)
    whole = CellHistory(everything(data), cells, TACTICAL, target, CRS)
    assert trained.forecast_period == whole.next_period()
    assert trained.covariate_groups == whole.covariate_groups and trained.model.feature_names_ == whole.feature_names
    first, last = trained.model.trained_periods_
    positives = sum(int((whole.observed(p) > 0).sum()) for p in range(first, last + 1))
    # Every cell-period with an incident, plus each part's share (rounded up) of 500 empty ones per period.
    parts = int(re.search(r"(\d+) parts", trained.notes[0]).group(1))
    assert positives < trained.model.n_rows_ <= positives + (500 + parts) * (last - first + 1)
    # The backtest scores the same periods as one machine's; the baselines, computed part by part,
    # score exactly as they do on the whole region, and the model beats a random ranking.
    alone = rolling_backtest(history_before(whole, trained.forecast_period), 2, model_settings,
                             baselines=["last_period", "decayed_counts", "retrospective_kde"]).per_period
    alone = alone[~alone["method"].isin(["blend", "served"])].reset_index(drop=True)  # not built part by part
    national = trained.backtest.per_period
    assert national["period"].tolist() == alone["period"].tolist()
    baselines = national["method"] != MODEL
    np.testing.assert_allclose(national.loc[baselines, "pai@1.4%"], alone.loc[baselines, "pai@1.4%"], rtol=1e-9)
    np.testing.assert_allclose(national.loc[baselines, "poisson_deviance"], alone.loc[baselines, "poisson_deviance"],
                               rtol=1e-9)
    assert (national.loc[~baselines, "pai@1.4%"] > 1).all()
    card = model_card(trained)
    assert "stratified sample" in card and "best baseline" in card and "SEPP are left out" in card
    version = register(store, trained)
    forecast = load_model(store, version).model.booster_.predict(whole.features(trained.forecast_period))
    assert np.isfinite(forecast).all() and forecast.sum() > 0


def test_ingest_writes_the_data_set_and_every_reader_reads_it(tmp_path):
    from conftest import SAMPLES
    from test_cli import hotspots
    from test_surface import city_of_london

    area = city_of_london(tmp_path)  # the same sample loaded into the folder's store
    sample = SAMPLES / "2019-07-city-of-london-street.csv.gz"
    into = ["ingest", str(sample), "--force-area", "none", "--dataset", "national", "--force", "city-of-london"]
    first, again = hotspots(*into, cwd=tmp_path), hotspots(*into, cwd=tmp_path)
    assert first.returncode == 0 and "(data set)" in first.stdout, first.stderr
    loaded = int(re.search(r"(\d+) loaded", first.stdout).group(1))
    assert loaded > 700 and " 0 loaded" in again.stdout
    rejects = pd.read_csv(next((tmp_path / "data" / "rejects").glob("dataset-city-of-london-*.rejects.csv")))
    assert list(rejects.columns[:3]) == ["source_file", "line", "reason"] and len(rejects) > 0
    assert len(IncidentDataset(tmp_path / "national").read(["incident_id"])) == loaded
    # The KDE command reads the data set, here and on a cluster, and maps what the store maps.
    common = ["kde", "--area", str(area), "--resolution", "11", "--bandwidth", "250"]
    store = hotspots(*common, "--out", "store.csv", cwd=tmp_path)
    parts = hotspots(*common, "--dataset", "national", "--scheduler", "local", "--out", "parts.csv", cwd=tmp_path)
    assert store.returncode == 0 and parts.returncode == 0, parts.stderr[-2000:]
    a, b = by_cell(pd.read_csv(tmp_path / "store.csv")), by_cell(pd.read_csv(tmp_path / "parts.csv"))
    np.testing.assert_allclose(b["density_per_km2"], a["density_per_km2"], rtol=1e-12, atol=1e-12)
    # The cell table is the same from either.
    assert hotspots("cells", "--out", "store-cells.csv", cwd=tmp_path).returncode == 0
    cells = hotspots("cells", "--dataset", "national", "--force", "city-of-london", "--out", "cells.csv", cwd=tmp_path)
    assert cells.returncode == 0, cells.stderr
    a, b = (pd.read_csv(tmp_path / f).sort_values(["h3_cell", "period", "offence_group"], ignore_index=True)
            for f in ("store-cells.csv", "cells.csv"))
    pd.testing.assert_frame_equal(a, b)
    # The data set's folder loads into a store with the same ids: the original file then adds nothing.
    other = ["--db", f"sqlite:///{tmp_path / 'other.db'}"]
    assert hotspots("ingest", "national", *other, "--force-area", "none", cwd=tmp_path).returncode == 0
    then = hotspots("ingest", str(sample), *other, "--force-area", "none", cwd=tmp_path)
    assert then.returncode == 0 and " 0 loaded" in then.stdout and f"{loaded} already stored" in then.stdout


@pytest.mark.parametrize("args,message", [
    (["ingest", "x.csv", "--dataset", "national"], "--dataset needs --force NAME"),
    (["ingest", "x.csv", "--force", "kent"], "give --dataset DIR too"),
    (["ingest", "x.csv", "--dataset", "national", "--force", "Kent Police"], "--force='Kent Police'"),
    (["kde", "--dataset", "national", "--bandwidth", "auto"], "give --bandwidth in metres"),
    (["kde", "--dataset", "nowhere"], "is not an incident data set"),
    (["model", "train", "--dataset", "national", "x.csv"], "not both"),
    (["model", "train", "--scheduler", "local"], "give --dataset DIR too"),
])
def test_data_set_mistakes_are_one_line(tmp_path, args, message):
    from test_cli import hotspots

    (tmp_path / "x.csv").write_text("Crime ID,Month\n")
    done = hotspots(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_model_train_from_the_data_set_stores_a_version_with_its_card(tmp_path, force_dataset):
    from test_cli import hotspots

    data, _ = force_dataset
    done = hotspots("model", "train", "--dataset", str(data.root), "--res", "8", "--backtest-periods", "2",
                    "--force", "west-midlands-west", "--force", "west-midlands-east", "--scheduler", "local",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stored from the data set" in done.stdout and "retrospective_kde" in done.stdout
    card = hotspots("model", "show", "1", cwd=tmp_path)
    assert card.returncode == 0 and "stratified sample" in card.stdout and "best baseline" in card.stdout
