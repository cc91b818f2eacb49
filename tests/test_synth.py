"""The synthetic city: reproducible, and its known ingredients come out of it."""

import math

import numpy as np
import pandas as pd
import pytest

from hotspots.core.errors import HotspotsError
from hotspots.geo import cells as C
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_files
from hotspots.synth import PatrolEffect, SynthParams, generate, synthetic_npus, write_city
from hotspots.synth.city import CITY_CENTRE_LONLAT


@pytest.fixture(scope="module")
def city(force_area):
    return generate(SynthParams(seed=7, incidents=40_000), force_area)


def test_same_seed_same_city_other_seed_other(force_area, city):
    again = generate(SynthParams(seed=7, incidents=40_000), force_area)
    pd.testing.assert_frame_equal(city.incidents, again.incidents)
    other = generate(SynthParams(seed=8, incidents=40_000), force_area)
    assert not other.incidents["lon"].head(100).equals(city.incidents["lon"].head(100))


def test_counts_cascade_and_area(city, force_area):
    inc = city.incidents
    # Expected total is `incidents` less offspring and hotspot tails lost outside the force area.
    assert 0.9 * 40_000 < len(inc) < 1.05 * 40_000
    offspring_share = (inc["generation"] > 0).mean()
    assert abs(offspring_share - 0.3) < 0.03  # branching ratio 0.3: offspring are 30% of events
    assert force_area.contains(inc["lon"].to_numpy(), inc["lat"].to_numpy()).all()
    assert inc["occurred_at"].is_monotonic_increasing


def test_near_repeats_are_near(city):
    inc = city.incidents
    kids = inc[inc["generation"] > 0]
    # Offspring sit within ~80 m of a parent: their nearest earlier event is much closer than chance.
    from scipy.spatial import cKDTree

    tree = cKDTree(inc[["x", "y"]].to_numpy())
    d, _ = tree.query(kids[["x", "y"]].to_numpy()[:2000], k=2)
    assert np.median(d[:, 1]) < 100


def test_time_cycles(city):
    inc = city.incidents
    local = inc["occurred_at"].dt.tz_convert("Europe/London")
    hour, dow, month = local.dt.hour, local.dt.day_of_week, local.dt.month
    assert (hour.between(18, 23)).mean() > 2 * (hour.between(4, 9)).mean()
    summer = month.isin([6, 7, 8]).sum() / 92
    winter = month.isin([12, 1, 2]).sum() / 90
    assert summer > 1.25 * winter
    cx, cy = city.hotspots.loc[0, ["x", "y"]]
    near = np.hypot(inc["x"] - cx, inc["y"] - cy) < 1500
    nte = ((dow == 4) | (dow == 5)) & (hour >= 21)
    assert nte[near].mean() > 2 * nte[~near].mean()
    assert city.hotspots.loc[0, ["lon", "lat"]].tolist() == pytest.approx(CITY_CENTRE_LONLAT)


def test_offence_mix_flags_and_harm(city):
    inc = city.incidents
    assert inc.loc[inc["offence"] == "robbery_of_personal_property", "knife_enabled"].mean() == pytest.approx(0.3, abs=0.04)
    assert inc.loc[inc["offence"] == "shoplifting", "knife_enabled"].sum() == 0
    assert inc.loc[inc["offence"] == "shoplifting", "victim_under_25"].isna().all()
    assert (inc.loc[inc["offence"] == "violence_with_injury", "harm_weight"] == 365).all()


def test_hotspots_hold_their_expected_share(city):
    inc = city.incidents
    cells = C.points_to_cells(inc["lon"].to_numpy(), inc["lat"].to_numpy(), 9)
    uniq, counts = np.unique(cells, return_counts=True)
    expected = city.expected_background_per_cell(uniq) / (1 - city.params.branching)
    top = np.argsort(-expected)[:30]
    ratio = counts[top].sum() / expected[top].sum()
    assert 0.8 < ratio < 1.2  # observed against true expectation in the 30 hottest cells


def test_patrol_effect_is_the_known_reduction(force_area):
    truth = generate(SynthParams(seed=3, incidents=1), force_area).hotspots.nlargest(5, "weight")
    cells = C.k_ring(C.points_to_cells(truth["lon"].to_numpy(), truth["lat"].to_numpy(), 9), 2)
    evenings = tuple(d * 24 + h for d in range(7) for h in range(16, 24))
    effect = PatrolEffect(cells=tuple(C.to_strings(cells)), hours_of_week=evenings, reduction=0.4)
    treated = generate(SynthParams(seed=3, incidents=60_000, patrol=effect), force_area)
    kept = int(treated.incidents["patrolled"].sum())
    removed = treated.removed_by_patrol
    share = removed / (removed + kept)
    se = math.sqrt(0.4 * 0.6 / (removed + kept))
    assert abs(share - 0.4) < 4 * se and removed + kept > 1000
    with pytest.raises(HotspotsError, match="mix H3 resolutions"):
        mixed = PatrolEffect(cells=(C.to_strings(cells)[0], "8a195c05945ffff"), reduction=0.1)
        generate(SynthParams(seed=3, incidents=100, patrol=mixed), force_area)


def test_bad_parameters(force_area):
    with pytest.raises(HotspotsError, match="branching"):
        generate(SynthParams(branching=0.99), force_area)
    with pytest.raises(HotspotsError, match="incidents"):
        generate(SynthParams(incidents=0), force_area)


@pytest.mark.parametrize("fmt", ["police-street", "mapped-csv", "geoparquet", "geojson"])
def test_written_formats_read_back(tmp_path, force_area, fmt, store):
    small = generate(SynthParams(seed=1, incidents=3000, days=60), force_area)
    files = write_city(small, tmp_path / fmt, fmt)
    data = [f for f in files if f.suffix != ".toml"]
    mapping = next((str(f) for f in files if f.suffix == ".toml"), None)
    reports = ingest_files(data, store, IngestOptions(force_area=force_area, mapping=mapping))
    assert sum(r.loaded for r in reports) == len(small.incidents)
    assert sum(r.rejected for r in reports) == 0 and not any(r.warnings for r in reports)


def test_synthetic_npus_cover_the_force(force_area):
    npus = synthetic_npus(force_area, 8, seed=0)
    assert len(npus) == 8 and npus["npu"].str.startswith("Synthetic NPU").all() and npus["synthetic"].all()
    bng = npus.to_crs(27700)
    assert bng.area.sum() == pytest.approx(bng.union_all().area, rel=1e-6)  # no overlaps
    assert bng.union_all().area / 1e6 == pytest.approx(901.7, rel=0.01)
