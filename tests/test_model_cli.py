"""``hotspots model`` as an analyst meets it: from files or the store, registry commands, one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest
from test_cli import hotspots

from hotspots.synth import SynthParams, generate, write_city


@pytest.fixture(scope="module")
def city_files(tmp_path_factory, force_area):
    folder = tmp_path_factory.mktemp("city")
    write_city(generate(SynthParams(seed=5, incidents=12_000, days=365), force_area), folder, "geoparquet")
    return folder


def _ok(done):
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_predict_straight_from_files(city_files, tmp_path):
    out = tmp_path / "scores.csv"
    done = _ok(hotspots("model", "predict", str(city_files), "--cutoff", "2024-11-04", "--res", "8", "--out", str(out),
                        cwd=tmp_path))
    assert "nothing is stored" in done.stderr and "served: " in done.stdout
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["h3_cell", "lon", "lat", "period_start", "period_end", "expected", "rank"]
    assert scores["h3_cell"].is_unique and (scores["expected"] >= 0).all()
    assert (scores["period_start"] == "2024-11-04").all() and (scores["period_end"] == "2024-12-01").all()
    assert scores["expected"].is_monotonic_decreasing
    assert not (tmp_path / "data" / "hotspots.sqlite").exists()  # nothing was loaded into a store


def test_train_list_show_promote_forecast_rollback(city_files, tmp_path):
    _ok(hotspots("ingest", str(city_files), cwd=tmp_path))
    done = _ok(hotspots("model", "train", "--res", "8", "--backtest-periods", "2", cwd=tmp_path))
    assert "model version 1 stored" in done.stdout and "best baseline" in done.stdout
    _ok(hotspots("model", "train", "--res", "8", "--backtest-periods", "0", "--seed", "3", cwd=tmp_path))
    listed = _ok(hotspots("model", "list", cwd=tmp_path)).stdout
    assert "knife_syv" in listed
    card = _ok(hotspots("model", "show", "1", cwd=tmp_path)).stdout
    assert "not promoted" in card and "Model card" in card and "Data fingerprint" in card
    refused = hotspots("model", "forecast", "--out", str(tmp_path / "f.csv"), cwd=tmp_path)
    assert refused.returncode == 2 and "no model is promoted" in refused.stderr
    _ok(hotspots("model", "promote", "1", cwd=tmp_path))
    warned = _ok(hotspots("model", "promote", "2", cwd=tmp_path))
    assert "without a backtest" in warned.stderr
    assert "version 1 serves" in _ok(hotspots("model", "rollback", cwd=tmp_path)).stdout
    _ok(hotspots("model", "forecast", "--out", str(tmp_path / "f.csv"), cwd=tmp_path))
    scores = pd.read_csv(tmp_path / "f.csv")
    assert {"h3_cell", "score", "expected"} <= set(scores.columns)
    # the promoted model's scores feed the weekly selection
    _ok(hotspots("select", "--scores", str(tmp_path / "f.csv"), "--resolution", "8", "--permutations", "0",
                 "--max-hotspots", "5", cwd=tmp_path))


def test_backtest_writes_the_report(city_files, tmp_path):
    done = _ok(hotspots("model", "backtest", str(city_files), "--res", "8", "--periods", "2", "--out",
                        str(tmp_path / "bt"), cwd=tmp_path))
    assert "Rolling-origin backtest" in done.stdout
    for name in ("backtest.md", "backtest.csv", "backtest.json", "backtest.png"):
        assert (tmp_path / "bt" / name).stat().st_size > 0
    assert set(pd.read_csv(tmp_path / "bt" / "backtest.csv")["method"]) >= {"model", "sepp", "prospective"}


@pytest.mark.parametrize(("args", "message"), [
    (["--cutoff", "2024-13-01"], "--cutoff='2024-13-01' is not a date"),
    (["--cutoff", "2024-06-03", "--period", "month"], "a month forecast starts on the 1st"),
    (["--cutoff", "2024-06-03", "--target", "Possession of weapons"], "found by police activity"),
    (["--cutoff", "2024-06-03", "--target", "knives"], "target='knives' is not a known offence"),
    (["--cutoff", "2024-01-15"], "not enough history to train"),
    (["--cutoff", "2024-06-03", "--res", "13"], "--res=13 is outside"),
])
def test_user_errors_are_one_line(city_files, tmp_path, args, message):
    done = hotspots("model", "predict", str(city_files), "--out", str(tmp_path / "s.csv"), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-1500:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error:")


def test_police_uk_data_needs_named_offences(tmp_path):
    from conftest import SAMPLES

    done = hotspots("model", "predict", str(SAMPLES / "2019-07-city-of-london-street.csv.gz"), "--area", "none",
                    "--cutoff", "2019-08-01", "--out", str(tmp_path / "s.csv"), cwd=tmp_path)
    assert done.returncode == 2 and "knife flag and victim age" in done.stderr
