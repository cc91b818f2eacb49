import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import SAMPLES

from hotspots.core.errors import FormatError, HotspotsError
from hotspots.ingest.readers import detect_format, read

STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                 "Crime type,Last outcome category,Context\n")


@pytest.mark.parametrize(
    ("name", "fmt", "rows"),
    [
        ("2011-02-west-midlands-street.csv.gz", "police-street-legacy", 25558),
        ("birmingham_city_centre_police_api_2017-01_to_2017-11.csv.gz", "police-api", 17260),
        ("2024-01-west-midlands-stop-and-search.csv.gz", "stop-search", 2326),
        ("2019-07-city-of-london-street.csv.gz", "police-street", 866),
    ],
)
def test_shipped_samples_are_detected_and_read(name, fmt, rows):
    path = SAMPLES / name
    assert detect_format(path) == fmt
    raw = read(path)
    assert len(raw) == rows and not raw.early_rejects
    assert raw.lines[0] == 2 and raw.lines[-1] == rows + 1


def test_stop_and_search_never_reads_personal_columns():
    raw = read(SAMPLES / "2024-01-west-midlands-stop-and-search.csv.gz")
    assert not {"gender", "age", "ethnicity"} & {k.lower() for k in raw.fields}
    text = " ".join(raw.raw_text(np.arange(50)))
    assert "Male" not in text and "White" not in text


def test_rows_of_the_wrong_width_are_rejected_with_their_line(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(
        STREET_HEADER
        + "a1,2019-07,City,City,-0.1,51.5,On or near X,E1,L,Robbery,,\n"
        + "a2,2019-07,City,City,-0.1\n"
        + '"a3","2019-07","multi\nline",City,-0.1,51.5,On or near X,E1,L,Robbery,,\n'
        + "a4,2019-07,City,City,-0.1,51.5,On or near X,E1,L,Robbery,,,extra\n"
    )
    raw = read(f)
    assert raw.lines.tolist() == [2, 4]  # the quoted field spans lines 4 and 5
    assert [(line, reason) for line, reason, _ in raw.early_rejects] == [
        (3, "expected 12 fields, found 5"), (6, "expected 12 fields, found 13")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text file \\(it looks binary"),
        (b"name,age\nbob,3\n", "not a recognised incident file"),
        (b"", "not a recognised incident file"),
    ],
)
def test_files_that_are_not_what_they_claim(tmp_path, content, message):
    f = tmp_path / "incidents.csv"
    f.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read(f)


def test_forced_format_with_missing_columns(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("Month,Easting\n2011-01,1\n")
    with pytest.raises(FormatError, match="missing column"):
        read(f, "police-street")
    with pytest.raises(HotspotsError, match="format='xml' is not known"):
        read(f, "xml")


def test_corrupt_gzip(tmp_path):
    f = tmp_path / "x.csv.gz"
    f.write_bytes(gzip.compress(STREET_HEADER.encode())[:20])
    with pytest.raises(FormatError):
        read(f)


def test_mapping_file_is_checked(tmp_path):
    f = tmp_path / "export.csv"
    f.write_text("Ref,When,Code,Lon,Lat\n1,2024-01-01 10:00,VWI,-1.9,52.48\n")
    m = tmp_path / "m.toml"
    m.write_text('[columns]\nsource_id = "Ref"\n')
    with pytest.raises(HotspotsError, match="must name a time"):
        read(f, options={"mapping": m})
    m.write_text("[columns\n")
    with pytest.raises(HotspotsError, match="not valid TOML"):
        read(f, options={"mapping": m})
    with pytest.raises(HotspotsError, match="needs a mapping file"):
        read(f, "mapped-csv")


def test_content_ids_are_pinned():
    """Ids of rows without a Crime ID must never change: a store outlives library upgrades."""
    from hotspots.ingest.normalise import _content_ids

    raw = read(SAMPLES / "2011-02-west-midlands-street.csv.gz")
    ids = _content_ids(raw, np.ones(len(raw), dtype=bool))
    assert ids[:2].tolist() == ["hf9fa6d8faee0f92a371001fc254e15ac", "h65badab6f956c7d40023fe53a61c8625"]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("encoding", ["base64", "rot13", "no-such-codec", "utf\x00-8", "\x19C*pn"])
def test_an_encoding_that_is_not_a_text_encoding_is_one_clear_error(encoding):
    """Found by schemathesis: a NUL in the name was a server error; base64 decodes bytes to bytes."""
    from hotspots.core.errors import ValidationError
    from hotspots.ingest.files import IngestOptions

    with pytest.raises(ValidationError, match="is not an encoding Python knows"):
        IngestOptions(encoding=encoding)


# -- the Arrow fast path against the careful reader ------------------------------------------------

_FIELD = st.one_of(
    st.text(alphabet="ab 1.-", max_size=6),
    st.text(alphabet='ab,;"\n\r ', max_size=5).map(lambda t: '"' + t.replace('"', '""') + '"'),  # quoted
    st.sampled_from(['a"b', '"ab"c', ' "a"', "é", "\t", "", " "]),  # odd quoting the csv module reads its way
)


@st.composite
def _csv_file(draw):
    width = draw(st.integers(1, 4))
    delimiter = draw(st.sampled_from([",", ";"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    header = delimiter.join(f"h{i}" for i in range(width))
    lines = [header]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append("")  # blank line
        elif kind == 1:
            lines.append(delimiter.join(draw(st.lists(_FIELD, min_size=1, max_size=width + 2))))  # any width
        else:
            lines.append(delimiter.join(draw(st.lists(_FIELD, min_size=width, max_size=width))))
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    return text, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(_csv_file())
def test_arrow_fast_path_reads_as_the_careful_reader(tmp_path_factory, case):
    """Whatever the file, the fast path either declines (None, and the careful reader reads it) or
    gives every row the careful reader gives, with the same line and the same values."""
    from hotspots.core.textfile import read_csv_rows

    text, bom, gz = case
    folder = tmp_path_factory.mktemp("fast")
    data = ("\ufeff" if bom else "") + text
    path = folder / ("f.csv.gz" if gz else "f.csv")
    (gzip.open(path, "wb") if gz else open(path, "wb")).write(data.encode("utf-8"))
    careful = read_csv_rows(path, personal=frozenset({"h1"}))
    fast = read_csv_rows(path, personal=frozenset({"h1"}), columns=True)
    if fast.columns is None:
        return
    assert not careful.rejected
    assert list(fast.lines) == careful.lines
    assert [fast.columns[i] for i in range(len(fast.lines))] == careful.rows


def test_arrow_fast_path_is_taken_for_a_clean_export_and_keeps_lines(tmp_path):
    from hotspots.core.textfile import read_csv_rows

    path = tmp_path / "export.csv"
    path.write_bytes(b'\xef\xbb\xbfid,place,gender\r\n1,"Digbeth, ""Bull""",F\r\n\r\n2,Aston,M\r\n3,,\r\n')
    fast = read_csv_rows(path, personal=frozenset({"gender"}), columns=True)
    assert fast.columns is not None and list(fast.lines) == [2, 4, 5]
    assert [fast.columns[i] for i in range(3)] == [["1", 'Digbeth, "Bull"', ""], ["2", "Aston", ""], ["3", "", ""]]
    spanning = tmp_path / "spanning.csv"
    spanning.write_text('id,place\n1,"two\nlines"\n2,x\n')
    assert read_csv_rows(spanning, columns=True).columns is None  # the careful reader's job
    assert read_csv_rows(spanning).lines == [2, 4]
