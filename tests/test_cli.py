"""The command line as a user meets it: one-line errors, exit codes, --help, the demo."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import SAMPLES

COMMANDS = ["ingest", "cells", "kde", "synth", "select", "select-counts", "map", "sets", "export", "engagement", "demo", "model", "patrol", "trial", "users", "serve", "stop-search", "return", "transparency"]


def hotspots(*args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
    env.update({"HOTSPOTS_DATA_DIR": str(Path(cwd) / "data"), "COLUMNS": "160"})
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "hotspots.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command, tmp_path):
    done = hotspots(command, "--help", cwd=tmp_path)
    assert done.returncode == 0 and "Usage" in done.stdout


def test_root_help_lines_are_the_commands_own():
    """The root help lists commands without importing them; its lines must not drift from theirs."""
    import typer

    from hotspots.cli import COMMANDS as LAZY, load_command
    from hotspots.cli._common import app

    assert sorted(LAZY) == sorted(COMMANDS)
    for name, entry in LAZY.items():
        command = load_command(name)
        assert command is not None, name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first == entry.help, name
    assert sorted(typer.main.get_group(app).commands) == sorted(LAZY)


def test_starting_the_cli_imports_no_command_module():
    code = ("import sys, hotspots.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('hotspots.cli.', 'sklearn', 'folium', 'uvicorn'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['hotspots.cli._common']"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing.csv"], "'missing.csv': no such file or folder"),
        (["ingest", "junk.csv"], "junk.csv: not a text file (it looks binary"),
        (["ingest", "cut.csv.gz"], "cut.csv.gz: the compressed file is truncated"),
        (["ingest", "people.csv"], "people.csv: not a recognised incident file"),
        (["ingest", "--format", "xml", "people.csv"], "format='xml' is not known"),
        (["ingest", "--force-area", "nowhere.gpkg", "people.csv"], "does not exist"),
        (["cells", "--resolution", "14"], "resolution=14 is outside the supported H3 resolutions"),
        (["cells", "--period", "fortnight"], "period='fortnight' is not known"),
        (["cells"], "the store holds no incidents"),
        (["cells", "--anchor", "someday"], "anchor='someday' is not a date"),
        (["cells", "--offence-group", "crime"], "--offence-group='crime' is not a group"),
        (["synth", "--incidents", "0", "--out", "s"], "incidents=0 must be greater than zero"),
        (["cells", "--db", "nonsense://"], "database_url='nonsense://'"),
        (["select", "--out", "hotspots.shp"], "--out='hotspots.shp': write one of"),
        (["select", "--map", "map.png"], "a map is an HTML page"),
        (["select", "--npu-min", "2"], "--npu-min/--npu-max need --npu-areas"),
        (["select", "--period", "fortnight"], "period='fortnight' is not known"),
        (["select", "--weight", "people"], "--weight='people' is not known"),
        (["select", "--scores", "none.csv"], "no such file 'none.csv'"),
        (["select"], "the store holds no incidents"),
        (["sets"], "the store holds no hotspot sets"),
        (["map", "--out", "m.html"], "no hotspot set for any period"),
        (["engagement", "set", "HS-0001", "--status", "agreed"], "'HS-0001' is not in any stored hotspot set"),
    ],
)
def test_user_errors_are_one_line(args, message, tmp_path):
    (tmp_path / "junk.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd")
    (tmp_path / "cut.csv.gz").write_bytes((SAMPLES / "2011-02-west-midlands-street.csv.gz").read_bytes()[:20_000])
    (tmp_path / "people.csv").write_text("name,age\nx,1\n")
    done = hotspots(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_database_is_one_line(tmp_path):
    done = hotspots("cells", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", cwd=tmp_path)
    assert done.returncode == 2 and "cannot open the store" in done.stderr and "Traceback" not in done.stderr


def test_ingest_then_cells(tmp_path):
    sample = SAMPLES / "2019-07-city-of-london-street.csv.gz"
    done = hotspots("ingest", "--force-area", "none", str(sample), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout and "rejected" in done.stdout
    again = hotspots("ingest", "--force-area", "none", str(sample), cwd=tmp_path)
    assert "already loaded as batch 1; nothing added" in again.stdout
    done = hotspots("cells", "--period", "month", "--out", "cells.geojson", "--top", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Top 3 cells" in done.stdout and (tmp_path / "cells.geojson").exists()


@pytest.mark.slow
def test_demo_runs_and_reruns(tmp_path):
    done = hotspots("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Top 10 cells" in done.stdout and "Ladywood" in done.stdout
    table = pd.read_csv(tmp_path / "data" / "cells.csv")
    assert {"h3_cell", "period", "incidents", "harm"} <= set(table.columns)
    assert not (table["offence_group"].isin(["stop_and_search", "anti_social_behaviour", "drugs"])).any()
    assert "Hotspots for 2017-12-04..2017-12-10" in done.stdout and "Coverage of the last complete period" in done.stdout
    assert "evidence floor: Gi* hot at a false discovery rate of 5%" in done.stdout
    assert "Project Guardian's published West Midlands hotspots" in done.stdout
    assert "of the area" in done.stdout and "serious youth violence not recorded in this data" in done.stdout
    first = pd.read_csv(tmp_path / "data" / "hotspots.csv")
    assert first["hotspot_id"].is_unique and first["geofence_wkt"].str.startswith("POLYGON").any()
    for name in ("hotspots.geojson", "hotspots.kml", "weekly-map.html"):
        assert (tmp_path / "data" / name).stat().st_size > 0
    # The force-wide month from counts per LSOA, with the 7 districts as the areas that get quotas.
    assert "Hotspots for 2026-04 (set 2" in done.stdout and "counts known per area, not per street" in done.stdout
    assert "2025-03 set aside: named incomplete by the source" in done.stdout
    force = pd.read_csv(tmp_path / "data" / "force-wide-hotspots.csv")
    assert force["hotspot_id"].is_unique and force["name"].is_unique
    assert set(force["area_name"]) == {"Birmingham", "Coventry", "Dudley", "Sandwell", "Solihull", "Walsall",
                                       "Wolverhampton"}
    assert not force["name"].str.contains("Pedestrian Subway|Parking Area").any()
    assert "These force-wide hotspots are chosen from police.uk counts per LSOA" in done.stdout
    assert "Counts known per LSOA, not per street" in (tmp_path / "data" / "force-wide-map.html").read_text()
    # The tasking board's roster for that set: the 28 days from its first day, per district, in every format.
    assert "roster 1 (version 1) issued for set 2" in done.stdout
    assert "more than its funded hours" not in done.stdout + done.stderr
    visits = pd.read_csv(tmp_path / "data" / "rosters" / "roster-1.csv", comment="#")
    assert len(visits) > 500 and visits["date"].min() == "2026-04-01" and visits["date"].max() == "2026-04-28"
    assert set(visits["hotspot_id"]) == set(force["hotspot_id"])
    assert len(list((tmp_path / "data" / "rosters" / "calendars").glob("*.ics"))) == visits["unit"].nunique()
    again = hotspots("demo", cwd=tmp_path)
    assert again.stdout.count("nothing added") == 3
    assert pd.read_csv(tmp_path / "data" / "cells.csv").equals(table)
    # The same week (and month) again is a new version of it, not its successor: the same ids and statuses.
    second = pd.read_csv(tmp_path / "data" / "hotspots.csv")
    assert second["hotspot_id"].tolist() == first["hotspot_id"].tolist()
    assert second["status"].tolist() == first["status"].tolist() and "dropped since last period" not in again.stdout
    assert pd.read_csv(tmp_path / "data" / "force-wide-hotspots.csv")["hotspot_id"].tolist() == force["hotspot_id"].tolist()
    assert "dropped since last month" not in again.stdout

    listed = hotspots("sets", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.count("2017-12-04..2017-12-10") == 2
    hid = first["hotspot_id"].iloc[0]
    edit = hotspots("engagement", "set", hid, "--owner", "Ladywood NPU inspector", "--status", "agreed",
                    "--next-review", "2017-12-18", cwd=tmp_path)
    assert edit.returncode == 0, edit.stderr
    plans = hotspots("engagement", "list", "--history", cwd=tmp_path)
    assert hid in plans.stdout and "agreed" in plans.stdout
    exported = hotspots("export", "--set", "1", "--out", "set1.gpkg", cwd=tmp_path)
    assert exported.returncode == 0 and (tmp_path / "set1.gpkg").exists()
    drawn = hotspots("map", "--set", "1", "--out", "ladywood.html", "--npu", "Ladywood", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    page = (tmp_path / "ladywood.html").read_text()
    assert hid in page and "agreed, review 2017-12-18" in page and len(page) < 3_000_000


def test_synth_writes_formats(tmp_path):
    done = hotspots("synth", "--incidents", "2000", "--days", "40", "--format", "mapped-csv", "--format",
                    "geoparquet", "--npus", "8", "--patrol-reduction", "0.3", "--out", "city", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "city").iterdir())
    assert "synthetic-city-export.toml" in names and "synthetic_npus.geojson" in names
    assert "synthetic-city-seed0.parquet" in names and "truth-hotspots-seed0.csv" in names
