"""Larger checks on the real public data in ../shared/data/real (skipped only where it is absent)."""

import os

import pandas as pd
import pytest
from conftest import SHARED_REAL

from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files
from hotspots.store.incidents import read_incidents

CITY = SHARED_REAL / "police_uk_street_other_forces" / "city_of_london"
needs_shared = pytest.mark.skipif(not CITY.is_dir() and os.environ.get("CI") != "true", reason=f"shared real data not present at {CITY} (local run)")


def test_shared_data_is_there_under_ci():
    # CI always has ../shared, so there the skips below can never hide a missing copy.
    if os.environ.get("CI") == "true":
        assert CITY.is_dir(), f"CI=true but the shared real data is missing at {CITY}"


@needs_shared
@pytest.mark.slow
def test_city_of_london_loads_each_crime_once(store, tmp_path):
    files = sorted(CITY.glob("*.csv"))
    assert len(files) == 45
    opts = IngestOptions(force_area=None, rejects_dir=tmp_path / "rejects")
    first = ingest_files([CITY], store, opts)
    rows = sum(r.rows_read for r in first)
    raw_rows = sum(len(pd.read_csv(f)) for f in files)
    assert rows == raw_rows == 28761
    # Every row is accounted for: stored, an exact repeat of a stored row, or rejected with a line.
    assert sum(r.loaded + r.already_stored + r.rejected for r in first) == rows
    stored = store.count("incidents")
    assert stored == sum(r.loaded for r in first)
    rejects = pd.concat([pd.read_csv(r.rejects_csv) for r in first if r.rejects_csv])
    assert len(rejects) == sum(r.rejected for r in first) == store.count("rejected_rows")
    assert rejects["line"].gt(1).all() and rejects["reason"].ne("").all()
    second = ingest_files([CITY], store, opts)
    assert all(r.skipped_reason.startswith("already loaded") for r in second)
    assert store.count("incidents") == stored and store.count("load_batches") == 45
    frame = read_incidents(store)
    assert frame["incident_id"].is_unique
    assert frame["occurred_from"].min() == pd.Timestamp("2018-01-01T00:00Z")
    # A Crime ID is a crime: where the Crime ID is present it is the id, possibly with a '#k' suffix.
    assert frame["time_precision"].eq("month").all()


@needs_shared
def test_legacy_west_midlands_eastings_land_in_the_force(force_area, store):
    path = SHARED_REAL / "west_midlands" / "legacy_2011" / "2011-02-west-midlands-street.csv"
    [report] = ingest_files([path], store, IngestOptions(force_area=force_area))
    assert report.rows_read == 25558 and report.rejected < 0.01 * report.rows_read


@needs_shared
def test_the_force_wide_counts_from_shared_place_every_crime_and_match_the_shipped_copy(tmp_path):
    """Every month file of ../shared's West Midlands counts per LSOA, all 14 categories, placed on cells:
    no row rejected, each complete month's crimes kept whole, and the two scored categories agree with
    the copy shipped in data/counts."""
    import gzip

    from hotspots.core.config import SHIPPED_DATA
    from hotspots.ingest.area_counts import read_area_counts

    folder = SHARED_REAL / "west_midlands" / "lsoa_month_counts"
    merged = tmp_path / "all.csv"
    with open(merged, "w") as out:
        for i, path in enumerate(sorted(folder.glob("*.csv.gz"))):
            lines = gzip.open(path, "rt").read().splitlines(keepends=True)
            out.writelines(lines if i == 0 else lines[1:])
    lsoas = SHARED_REAL / "boundaries" / "west_midlands" / "lsoa.geojson.gz"
    got = read_area_counts(merged, lsoas, code_field="LSOA21CD")
    raw = pd.read_csv(merged)
    raw["month"] = raw["year"].astype(str) + "-" + raw["month"].map("{:02d}".format)
    assert len(got.rejects) == 0 and len(got.months) + len(got.incomplete) == 35
    kept = raw[raw["month"].isin(got.months)]
    assert abs(got.counts["count"].sum() - kept["crime_count"].sum()) < 1e-6 * kept["crime_count"].sum()
    shipped = pd.read_csv(SHIPPED_DATA / "counts" / "west_midlands_lsoa_month_counts.csv.gz")
    scored = ["Violence and sexual offences", "Robbery"]
    assert (shipped[shipped["category"].isin(scored)].groupby("month")["crime_count"].sum()
            .equals(raw[raw["category"].isin(scored)].groupby("month")["crime_count"].sum()))
