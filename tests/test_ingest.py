"""Loading files into the store, on SQLite and PostgreSQL."""

import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from conftest import SAMPLES
from sqlalchemy import text

from hotspots.core.errors import FormatError
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_file, ingest_files
from hotspots.store import open_store
from hotspots.store.incidents import read_incidents

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
          "Crime type,Last outcome category,Context\n")


def street_row(cid, month="2024-03", lon="-1.8983", lat="52.4796", crime="Robbery"):
    return f"{cid},{month},WMP,WMP,{lon},{lat},On or near High Street,E01,Birmingham 1,{crime},,\n"


@pytest.fixture
def opts(force_area, tmp_path):
    return IngestOptions(force_area=force_area, rejects_dir=tmp_path / "rejects")


def test_sample_loads_once(store, opts):
    path = SAMPLES / "birmingham_city_centre_police_api_2017-01_to_2017-11.csv.gz"
    first = ingest_file(path, store, opts)
    assert (first.rows_read, first.loaded, first.rejected) == (17260, 17260, 0)
    again = ingest_file(path, store, opts)
    assert again.loaded == 0 and "already loaded as batch" in again.skipped_reason
    assert store.count("incidents") == 17260 and store.count("load_batches") == 1
    frame = read_incidents(store)
    assert (frame["time_precision"] == "month").all()
    june = frame[frame["occurred_from"] == pd.Timestamp("2017-05-31T23:00Z")]  # local midnight, BST
    assert len(june) == 1511 and (june["occurred_to"] == pd.Timestamp("2017-06-30T23:00Z")).all()
    assert set(frame["offence_group"]) >= {"violence_and_sexual_offences", "robbery", "anti_social_behaviour"}
    assert frame["h3_cell"].str.len().eq(15).all()


def test_stored_values_are_the_normalised_ones(store, opts, tmp_path):
    """The bulk writers (NumPy text for SQLite, Arrow CSV into COPY for PostgreSQL) store every
    value exactly: full float precision, UTC times to the microsecond, quotes, commas, empty text and
    NULL kept apart, and a second file repeating ids adds only the new ones."""
    from hotspots.ingest.files import normalise_files

    f = tmp_path / "2024-03-quoted-street.csv"
    rows = [street_row("q1", lon="-1.898312345678912", lat="52.47960000000001"),
            'q2,2024-03,WMP,WMP,-1.9,52.48,"On or near ""The Bull"", Digbeth",E01,B,Robbery,,\n',
            street_row("q3", month="2024-10"), street_row("", crime="Anti-social behaviour")]
    f.write_text(HEADER + "".join(rows))
    ingest_file(f, store, opts)
    expected, _, _ = normalise_files([f], opts)
    stored = read_incidents(store).set_index("incident_id").sort_index()
    expected = expected.set_index("incident_id").sort_index()
    for col in stored.columns:
        assert stored[col].tolist() == expected[col].tolist(), col
    assert stored.loc["q2", "location"] == 'On or near "The Bull", Digbeth'
    g = tmp_path / "2024-04-more-street.csv"
    g.write_text(HEADER + street_row("q1", lon="-1.898312345678912", lat="52.47960000000001") + street_row("q4"))
    assert ingest_file(g, store, opts).loaded == 1 and store.count("incidents") == 5
    # incidents.batch_id has no foreign key (migration 0012): the writer alone keeps it true
    with store.engine.connect() as conn:
        per_batch = conn.execute(text("SELECT b.source_file, count(i.incident_id) FROM incidents i "
                                      "LEFT JOIN load_batches b ON b.batch_id = i.batch_id "
                                      "GROUP BY b.source_file ORDER BY b.source_file")).all()
    assert [tuple(r) for r in per_batch] == [(str(f), 4), (str(g), 1)]


def test_corrupted_file_loses_no_row(store, opts, tmp_path):
    f = tmp_path / "2024-03-test-street.csv"
    f.write_text(
        HEADER
        + street_row("c1")                                   # line 2: good
        + street_row("c2", lon="", lat="")                   # line 3: missing coordinates
        + street_row("c3", lon="west", lat="52.4")           # line 4: unparseable coordinates
        + street_row("c4", month="March")                    # line 5: unparseable date
        + street_row("c5", month="")                         # line 6: missing date
        + street_row("c6", lon="-0.1", lat="51.5")           # line 7: London, outside the force area
        + "c7,2024-03,WMP\n"                                 # line 8: short row
        + street_row("c8", crime="Jaywalking")               # line 9: unknown offence, kept as other
        + street_row("c9", lon="200", lat="52.4")            # line 10: out of range
        + street_row("c1")                                   # line 11: same Crime ID again in the file
        + street_row("", crime="Anti-social behaviour")      # line 12: no Crime ID: content hash
        + street_row("", crime="Anti-social behaviour")      # line 13: identical: a second ASB, not a copy
    )
    report = ingest_file(f, store, opts)
    assert report.rows_read == 12
    assert report.loaded == 4  # c1, c8, and the two ASB rows
    assert report.already_stored == 1  # the repeated c1
    assert report.loaded + report.already_stored + report.rejected == report.rows_read
    rejects = pd.read_csv(report.rejects_csv)
    assert rejects[["line", "reason"]].values.tolist() == [
        [3, "missing coordinates"], [4, "unparseable coordinates"], [5, "unparseable date"],
        [6, "missing date"], [7, "outside the force area (west_midlands_force_area)"],
        [8, "expected 12 fields, found 3"], [10, "coordinates out of range"],
    ]
    assert rejects["raw"].str.startswith("c").all() and (rejects["source_file"] == f.name).all()
    assert store.count("rejected_rows") == 7
    assert any("Jaywalking" in w and "line 9" in w for w in report.warnings)
    frame = read_incidents(store).set_index("incident_id")
    assert frame.loc["c8", "offence"] == "other"
    assert (frame.index.str.startswith("h")).sum() == 2


def test_same_crime_in_two_files_is_stored_once(store, opts, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + street_row("x1") + street_row("x2"))
    b.write_text(HEADER + street_row("x2") + street_row("x3"))
    reports = ingest_files([a, b], store, opts)
    assert [(r.loaded, r.already_stored) for r in reports] == [(2, 0), (1, 1)]
    assert store.count("incidents") == 3


def test_content_ids_are_stable_across_files(store, opts, tmp_path):
    rows = street_row("", crime="Anti-social behaviour") * 3
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + rows)
    b.write_text(HEADER + rows + street_row("", crime="Anti-social behaviour", lat="52.48"))
    ra, rb = ingest_files([a, b], store, opts)
    assert (ra.loaded, rb.loaded, rb.already_stored) == (3, 1, 3)


def test_failure_mid_batch_leaves_store_unchanged(store, opts, tmp_path, monkeypatch):
    import hotspots.store.bulk as bulk

    monkeypatch.setattr(bulk, "CHUNK_ROWS", 100)
    path = SAMPLES / "2019-07-city-of-london-street.csv.gz"
    calls = []

    def boom(n):
        calls.append(n)
        if len(calls) == 3:
            raise RuntimeError("disk full")

    opts.force_area = None
    with pytest.raises(RuntimeError):
        ingest_file(path, store, opts, progress=boom)
    assert (store.count("incidents"), store.count("load_batches"), store.count("rejected_rows")) == (0, 0, 0)
    report = ingest_file(path, store, opts)
    assert report.loaded + report.rejected == 866 and report.loaded == store.count("incidents")


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import hotspots.store.bulk as bulk
    from hotspots.ingest.files import IngestOptions
    from hotspots.services.ingest import ingest_file
    from hotspots.store import open_store
    bulk.CHUNK_ROWS = 100
    seen = []
    def kill(n):
        seen.append(n)
        if len(seen) == 4:
            os.kill(os.getpid(), signal.SIGKILL)
    ingest_file(sys.argv[2], open_store(sys.argv[1]), IngestOptions(force_area=None), progress=kill)
    """
)


def test_killed_process_leaves_store_as_it_was(store, store_url, opts):
    path = SAMPLES / "2019-08-city-of-london-street.csv.gz"
    done = subprocess.run([sys.executable, "-c", KILLER, store_url, str(path)], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    assert (store.count("incidents"), store.count("load_batches")) == (0, 0)
    again = open_store(store_url)
    opts.force_area = None
    report = ingest_file(path, again, opts)
    assert report.loaded == again.count("incidents") > 0 and again.count("load_batches") == 1
    again.dispose()


def test_mapped_export_with_knife_flag_and_age_bands(store, opts, tmp_path):
    f = tmp_path / "connect.csv"
    f.write_text(
        "Occurrence Ref,Committed From,HO Offence Code,Longitude,Latitude,Knife Crime Flag,Victim Age Band,Beat\n"
        "R1,30/06/2024 23:30,VWI,-1.8983,52.4796,Y,18-24,B1\n"
        "R2,31/03/2024 02:30,ROBP,-1.8983,52.4796,N,25-34,B1\n"
        "R3,01/07/2024 12:00,ZZ9,-1.8983,52.4796,,20-29,B1\n"
        "R4,31/02/2024 12:00,VWI,-1.8983,52.4796,Y,18-24,B1\n"
        "R5,31/03/2024 01:30,VWI,-1.8983,52.4796,Y,18-24,B1\n"  # the hour the spring clock change skips
    )
    opts.mapping = str(SAMPLES.parent / "mappings" / "connect_example.toml")
    report = ingest_file(f, store, opts)
    assert (report.loaded, report.rejected) == (3, 2)
    reasons = pd.read_csv(report.rejects_csv).set_index("line")["reason"]
    assert reasons[5] == "unparseable date" and reasons[6].startswith("local time in the hour the clocks skip forward")
    frame = read_incidents(store).set_index("incident_id")
    assert frame.loc["R1", "occurred_from"] == pd.Timestamp("2024-06-30T22:30Z")  # BST
    assert frame.loc["R1", "occurred_to"] == frame.loc["R1", "occurred_from"]
    assert frame.loc["R1", ["offence", "knife_enabled", "victim_under_25"]].tolist() == [
        "violence_with_injury", True, True]
    assert frame.loc["R2", ["offence", "knife_enabled", "victim_under_25"]].tolist() == [
        "robbery_of_personal_property", False, False]
    assert frame.loc["R3", "offence"] == "other" and pd.isna(frame.loc["R3", "victim_under_25"])
    assert frame.loc["R1", "harm_weight"] == 365.0


def test_store_crs_is_fixed_by_the_first_load(store, opts, tmp_path):
    f = tmp_path / "a.csv"
    f.write_text(HEADER + street_row("k1"))
    ingest_file(f, store, opts)
    assert store.meta("projected_crs") == "EPSG:27700" and store.meta("h3_resolution") == "10"
    opts.projected_crs = "EPSG:32630"
    g = tmp_path / "b.csv"
    g.write_text(HEADER + street_row("k2"))
    with pytest.raises(Exception, match="already holds x/y in EPSG:27700"):
        ingest_file(g, store, opts)


def test_a_first_file_rejected_whole_does_not_fix_the_crs(store, opts, tmp_path):
    """Latitude and longitude swapped (the Indian Ocean): every row is outside the force area and
    rejected, so nothing is stored and the next, good file chooses the projection."""
    bad = tmp_path / "swapped.csv"
    bad.write_text(HEADER + street_row("s1", lon="52.4796", lat="-1.8983") + street_row("s2", lon="52.48", lat="-1.9"))
    report = ingest_file(bad, store, opts)
    assert report.loaded == 0 and report.rejected == 2
    assert store.meta("projected_crs") is None and store.meta("h3_resolution") is None
    good = tmp_path / "good.csv"
    # A few swapped rows among good ones do not move the projection either.
    good.write_text(HEADER + street_row("g1") + street_row("g2") + street_row("g3", lon="52.4796", lat="-1.8983"))
    ingest_file(good, store, opts)
    assert store.meta("projected_crs") == "EPSG:27700"


def test_reused_crime_ids_are_kept_apart(store, opts, tmp_path):
    f = tmp_path / "2024-03-reuse.csv"
    f.write_text(HEADER + street_row("r1") + street_row("r1", lat="52.48") + street_row("r1", lat="52.49")
                 + street_row("r1"))
    report = ingest_file(f, store, opts)
    assert (report.loaded, report.already_stored) == (3, 1)
    ids = sorted(read_incidents(store)["incident_id"])
    assert ids == ["r1", "r1#2", "r1#3"]
    assert any("reuse the Crime ID" in w for w in report.warnings)
    assert any("repeat an earlier row exactly" in w for w in report.warnings)


def test_damaged_rows_are_rejected_with_line_and_reason_on_every_store(store, opts, tmp_path):
    """A line feature, a year nobody recorded (2999, past what a timestamp holds), and a NUL byte
    (which PostgreSQL text refuses): each row is rejected with its line and reason, the rest is stored."""
    from hotspots.store.schema import rejected_rows

    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context\n")
    good = ",2017-03,WMP,WMP,-1.91,52.48,On or near Y,E01,B,Robbery,,\n"
    csv = tmp_path / "damaged.csv"
    csv.write_text(header + ",2999-01,WMP,WMP,-1.9,52.48,On or near X,E01,B,Robbery,,\n" + good
                   + ",2017-03,WMP,WMP,-1.9,52.48,On or near \x00X,E01,B,Robbery,,\n", encoding="utf-8")
    report = ingest_file(csv, store, opts)
    assert (report.loaded, report.rejected) == (1, 2)
    lines = tmp_path / "lines.geojson"
    lines.write_text('{"type":"FeatureCollection","features":['
                     '{"type":"Feature","geometry":{"type":"LineString","coordinates":[[-1.9,52.48],[-1.89,52.49]]},'
                     '"properties":{"offence":"Robbery","datetime":"2024-01-05T10:00:00Z"}},'
                     '{"type":"Feature","geometry":{"type":"Point","coordinates":[-1.9,52.48]},'
                     '"properties":{"offence":"Robbery","datetime":"2024-01-05T10:00:00Z"}}]}', encoding="utf-8")
    shaped = ingest_file(lines, store, opts)
    assert (shaped.loaded, shaped.rejected) == (1, 1)
    with store.engine.connect() as conn:
        rows = conn.execute(rejected_rows.select().order_by(rejected_rows.c.batch_id, rejected_rows.c.line)).mappings().all()
    assert [(r["line"], r["reason"]) for r in rows] == [
        (2, f"date outside 1900 to {pd.Timestamp.now().year + 1}"),
        (4, "a field holds a NUL byte (0x00), which text cannot hold"),
        (1, "geometry is a LineString, not a point")]
    assert "\\x00X" in rows[1]["raw"]  # kept, written out, so PostgreSQL can hold it


def test_files_as_forces_send_them_encoding_delimiter_oversized_rows(store, opts, tmp_path):
    """A Windows-1252 export is refused with the byte, the line and the encoding to try, then loads
    when told; a semicolon export loads (delimiter told from the header); an oversized row is
    rejected alone with its line."""
    rows = [street_row(f"w{i}") for i in range(5)] + [street_row("w5").replace("High Street", "Café Street")]
    excel = tmp_path / "excel.csv"
    excel.write_bytes((HEADER + "".join(rows)).encode("cp1252"))
    with pytest.raises(FormatError, match=r"excel.csv: line 7: byte 0xE9 is not valid UTF-8 text; .*encoding cp1252"):
        ingest_file(excel, store, opts)
    assert store.count("load_batches") == 0
    told = ingest_file(excel, store, IngestOptions(force_area=opts.force_area, encoding="cp1252"))
    assert (told.loaded, told.rejected) == (6, 0)
    assert "On or near Café Street" in set(read_incidents(store)["location"])
    semi = tmp_path / "semi.csv"
    semi.write_text((HEADER + street_row("s1") + street_row("s2")).replace(",", ";"))
    assert ingest_file(semi, store, opts).loaded == 2
    big = tmp_path / "big.csv"
    big.write_text(HEADER + street_row("b1") + street_row("b2").replace("High Street", "x" * 200_000)
                   + street_row("b3"))
    done = ingest_file(big, store, opts)
    assert (done.loaded, done.rejected) == (2, 1)
    assert pd.read_csv(done.rejects_csv)[["line", "reason"]].values.tolist() == [
        [3, "a field is over 131,072 characters"]]


def test_without_a_force_area_swapped_positions_are_rejected_and_do_not_place_the_projection(store, tmp_path):
    """Lat/lon swapped (a London crime in the Indian Ocean) is 'implausible' beside the file's other
    points, and the projection is chosen from the plausible ones (British National Grid, not UTM)."""
    london = [street_row(f"l{i}", lon=f"{-0.1 + i / 1000:.4f}", lat="51.5") for i in range(12)]
    swapped = [street_row(f"x{i}", lon="51.5", lat="-0.1") for i in range(8)]
    f = tmp_path / "london.csv"
    f.write_text(HEADER + "".join(swapped + london))
    done = ingest_file(f, store, IngestOptions(force_area=None, rejects_dir=tmp_path / "rejects"))
    assert (done.loaded, done.rejected) == (12, 8)
    reasons = pd.read_csv(done.rejects_csv)["reason"]
    assert reasons.str.startswith("implausible location (lat/lon swapped?): over 100 km").all()
    assert store.meta("projected_crs") == "EPSG:27700"
