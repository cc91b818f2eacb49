"""Every CSV the project writes neutralises formulas from the data: hotspot sets, rejected rows and
rosters share one writer (hotspots.core.tables); numbers are left alone."""

import copy

import pandas as pd

from hotspots.core.tables import csv_text, neutralise, write_csv
from hotspots.ingest.files import IngestOptions
from hotspots.places.exports import write_hotspots
from hotspots.services.ingest import ingest_file

HOSTILE = ['=HYPERLINK("http://evil","x")', "=1+2+cmd|' /C calc'!A0", "+SUM(A1)", "@SUM(A1)", "-2+3"]


def test_neutralise_prefixes_text_a_spreadsheet_would_evaluate():
    assert [neutralise(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert neutralise("Broad Street") == "Broad Street" and neutralise(-1.89) == -1.89 and neutralise(None) is None
    text = csv_text(pd.DataFrame({"name": ["=1+1", "ok"], "lon": [-1.89, 2.0]}))
    assert text.splitlines() == ["name,lon", "'=1+1,-1.89", "ok,2.0"]


def test_hotspot_set_csv_neutralises_names(weeks, tmp_path):
    hs = copy.deepcopy(weeks[0].hotspot_set)
    hs.hotspots["name"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(hs.hotspots))]
    back = pd.read_csv(write_hotspots(hs, tmp_path / "set.csv"))
    assert back["name"].str.startswith("'").all()
    assert (back["centroid_lon"] < 0).all()  # numbers stay numbers


def test_rejects_csv_neutralises_raw_lines(store, force_area, tmp_path):
    f = tmp_path / "hostile.csv"
    f.write_text("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                 "Crime type,Last outcome category,Context\n"
                 '=cmd,not a month,WMP,WMP,-1.89,52.48,"=HYPERLINK(""http://evil"")",E01,B 1,Robbery,,\n'
                 "ok1,2024-03,WMP,WMP,-1.8983,52.4796,On or near High Street,E01,B 1,Robbery,,\n")
    report = ingest_file(f, store, IngestOptions(force_area=force_area, rejects_dir=tmp_path / "rejects"))
    assert report.rejected == 1 and report.rejects_csv is not None
    rejects = pd.read_csv(report.rejects_csv)
    assert rejects["raw"].str.startswith("'=").all() and rejects["line"].tolist() == [2]


def test_write_csv_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = write_csv(pd.DataFrame({"a": ["=x"]}), tmp_path / "out" / "t.csv")
    assert path.read_text().splitlines() == ["a", "'=x"] and list(path.parent.iterdir()) == [path]
