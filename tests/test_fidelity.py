"""Data fidelity: clock changes, months missing from the input, files of one offence, and what
'model predict' says it did."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from hotspots.cli.model import summarised
from hotspots.core.errors import ValidationError
from hotspots.ingest.files import IngestOptions, ingest_context, normalise_files
from hotspots.ingest.normalise import normalise
from hotspots.ingest.readers import read
from models.runs import check_no_recent_gap


def mapped(tmp_path, rows: list[str], zone: str, offence_column: bool = True):
    mapping = tmp_path / "m.toml"
    columns = 'datetime = "When"\nlon = "Lon"\nlat = "Lat"\n' + ('offence = "What"\n' if offence_column else "")
    fmt = f'timezone = "{zone}"\n' + ("" if offence_column else 'offence = "Robbery"\n')
    mapping.write_text(f"[columns]\n{columns}[format]\n{fmt}")
    data = tmp_path / "x.csv"
    header = "When,Lon,Lat" + (",What" if offence_column else "")
    data.write_text(header + "\n" + "\n".join(rows) + "\n")
    raw = read(data, "auto", {"mapping": str(mapping)})
    opts = IngestOptions(force_area=None, timezone="Europe/London")
    return normalise(raw, ingest_context(None, None, raw, opts, "store"))


@pytest.mark.parametrize(("zone", "autumn", "spring", "first_pass_utc"), [
    ("Europe/London", "2024-10-27 01:30", "2024-03-31 01:30", "2024-10-27T00:30Z"),
    ("America/New_York", "2024-11-03 01:30", "2024-03-10 02:30", "2024-11-03T05:30Z"),
])
def test_clock_changes_keep_the_repeated_hour_and_reject_the_skipped_one(tmp_path, zone, autumn, spring,
                                                                        first_pass_utc):
    """The hour an autumn change repeats is kept (its first pass, flagged in a warning); a time in the hour a
    spring change skips never happened and is rejected with its own reason."""
    lon, lat = ("-1.9", "52.48") if zone == "Europe/London" else ("-74.0", "40.7")
    done = mapped(tmp_path, [f"{autumn},{lon},{lat},Robbery", f"{spring},{lon},{lat},Robbery",
                             f"2024-06-01 12:00,{lon},{lat},Robbery"], zone)
    assert done.incidents["source_line"].tolist() == [2, 4]
    assert done.incidents["occurred_from"].iloc[0] == pd.Timestamp(first_pass_utc)
    assert done.rejects[["line", "reason"]].values.tolist() == [
        [3, "local time in the hour the clocks skip forward (spring clock change): no such time happened; give it "
            "with its UTC offset"]]
    assert any("autumn clock change repeats (first at line 2) read as its first pass" in w for w in done.warnings)


def test_a_mapping_may_name_the_one_offence_of_a_file(tmp_path):
    done = mapped(tmp_path, ["2024-06-01 12:00,-1.9,52.48", "2024-06-02 12:00,-1.9,52.48"], "Europe/London",
                  offence_column=False)
    assert done.incidents["offence_group"].tolist() == ["robbery", "robbery"]


def test_a_month_missing_inside_the_span_is_warned_of(tmp_path):
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
              "Crime type,Last outcome category,Context\n")
    for month in ("2024-01", "2024-02", "2024-04"):
        (tmp_path / f"{month}.csv").write_text(
            header + f"c-{month},{month},WMP,WMP,-1.9,52.48,On or near X,E01,B,Robbery,,\n")
    _, _, warnings = normalise_files([tmp_path], IngestOptions(force_area=None))
    assert any("hold no incident in 2024-03 inside their span" in w for w in warnings)


def test_training_refuses_a_gap_just_before_the_cutoff_and_warns_of_older_ones(caplog):
    def frame(months):
        return pd.DataFrame({"occurred_from": pd.to_datetime([f"{m}-15" for m in months]).tz_localize("UTC")})

    with pytest.raises(ValidationError, match="no crime in 2024-05, among the 3 months before the cutoff"):
        check_no_recent_gap(frame(["2024-01", "2024-02", "2024-03", "2024-04", "2024-06"]), dt.date(2024, 7, 1),
                            "Europe/London")
    with pytest.raises(ValidationError, match="no crime in 2024-05, 2024-06"):
        check_no_recent_gap(frame(["2024-01", "2024-02", "2024-03", "2024-04"]), dt.date(2024, 7, 1),
                            "Europe/London")
    check_no_recent_gap(frame(["2023-01", "2023-03", "2023-04", "2023-05", "2023-06"]), None, "Europe/London")
    assert "no crime in 2023-02" in caplog.text


def test_repeated_warnings_of_many_files_are_summarised():
    lines = [f"2024-{m:02d}.csv: {m} row(s) repeat an earlier row exactly (first at line {m + 4}); kept once"
             for m in range(1, 13)] + ["2024-01.csv: unknown offence 'x' on 1 row(s) (first at line 2) kept as 'other'"]
    got = summarised(lines)
    assert got[0] == lines[0] + " (and the same in 11 more file(s))" and got[1] == lines[-1] and len(got) == 2


def _one_offence_file(tmp_path, zone: str, rows: list[str]):
    mapping = tmp_path / "m.toml"
    mapping.write_text(f'[columns]\ndatetime = "When"\nlon = "Lon"\nlat = "Lat"\n[format]\ntimezone = "{zone}"\n'
                       'offence = "Robbery"\n')
    data = tmp_path / "x.csv"
    data.write_text("When,Lon,Lat\n" + "\n".join(rows) + "\n")
    return data, mapping


def test_periods_follow_the_mappings_time_zone(tmp_path):
    """A mapping's time zone is where its incidents happened: the periods start at its midnights, not the
    force's."""
    from hotspots.cli.model import _history

    rows = [f"2024-{m:02d}-{d:02d} 12:00,-1.9,52.48" for m in range(1, 9) for d in (3, 17)]
    data, mapping = _one_offence_file(tmp_path, "America/New_York", rows)
    history, _ = _history([data], "auto", mapping, "month", 8, "Robbery", "", [], None, False, None,
                          tmp_path / "rejects.csv")
    assert history.calendar.timezone == "America/New_York"
    # 20:30 on 30 June in New York is June there, though already July in London.
    data2, _ = _one_offence_file(tmp_path, "America/New_York", [*rows, "2024-06-30 20:30,-1.9,52.48"])
    again, _ = _history([data2], "auto", mapping, "month", 8, "Robbery", "", [], None, False, None,
                        tmp_path / "rejects.csv")
    june = again.calendar.period_of(dt.date(2024, 6, 10))
    assert again.observed(june).sum() == history.observed(june).sum() + 1


def test_a_time_spread_over_columns_and_a_month_given_as_its_first_day(tmp_path):
    """Vancouver's YEAR..MINUTE columns joined by a list in the mapping; 2022-01-01 in a month column is January."""
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\ndatetime = ["Y", "M", "D", "H", "MIN"]\nlon = "Lon"\nlat = "Lat"\n'
                       '[format]\ndatetime = "%Y %m %d %H %M"\ntimezone = "Europe/London"\noffence = "Robbery"\n')
    data = tmp_path / "x.csv"
    data.write_text("Y,M,D,H,MIN,Lon,Lat\n2022,6,3,23,5,-1.9,52.48\n2022,13,3,23,5,-1.9,52.48\n")
    raw = read(data, "auto", {"mapping": str(mapping)})
    done = normalise(raw, ingest_context(None, None, raw, IngestOptions(force_area=None), "store"))
    assert done.incidents["occurred_from"].tolist() == [pd.Timestamp("2022-06-03T22:05Z")]
    assert done.rejects[["line", "reason"]].values.tolist() == [[3, "unparseable date"]]
    month_map = tmp_path / "month.toml"
    month_map.write_text('[columns]\nmonth = "month"\nlon = "Lon"\nlat = "Lat"\n[format]\noffence = "Burglary"\n')
    monthly = tmp_path / "m.csv"
    monthly.write_text("month,Lon,Lat\n2022-01-01,-1.9,52.48\n2022-01-15,-1.9,52.48\n")
    raw = read(monthly, "auto", {"mapping": str(month_map)})
    done = normalise(raw, ingest_context(None, None, raw, IngestOptions(force_area=None), "store"))
    assert done.incidents["occurred_from"].tolist() == [pd.Timestamp("2022-01-01T00:00Z")]
    assert done.incidents["occurred_to"].tolist() == [pd.Timestamp("2022-02-01T00:00Z")]
    assert done.rejects["line"].tolist() == [3]  # a mid-month day is not a month


def test_a_mapping_column_must_be_one_name_or_a_list_for_a_time(tmp_path):
    from hotspots.core.errors import FormatError
    from hotspots.ingest.readers import load_mapping

    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\ndatetime = "When"\nlon = ["A", "B"]\nlat = "Lat"\n[format]\noffence = "Robbery"\n')
    with pytest.raises(FormatError, match=r"lon = \['A', 'B'\] must name one source column"):
        load_mapping(bad)
