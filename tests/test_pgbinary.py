"""PostgreSQL's binary COPY encoding: the vectorised encoder against a struct-by-struct twin, and
through a real server (what it stores is what was encoded)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import copy_binary_rows

from hotspots.store import pgbinary

KINDS = ["text", "int4", "int8", "float8", "bool", "timestamptz"]
TEXT = st.none() | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
VALUES = {
    "text": TEXT,
    "int4": st.none() | st.integers(-(2**31), 2**31 - 1),
    "int8": st.none() | st.integers(-(2**63), 2**63 - 1),
    "float8": st.none() | st.floats(allow_nan=False, allow_infinity=True),
    "bool": st.none() | st.booleans(),
    "timestamptz": st.none() | st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1),
                                            timezones=st.just(dt.UTC)),
}


def _column(values: list, kind: str):
    """A column as the store's frames hold it: times as an aware pandas column, flags as objects."""
    if kind == "timestamptz":
        return pd.Series(pd.to_datetime([v for v in values], utc=True), dtype="datetime64[ns, UTC]")
    if kind == "bool":
        return np.array(values, dtype=object)
    if kind == "float8":
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    if kind == "text":
        return pd.Series(values, dtype=object)
    return pd.array(values, dtype="Int64")


def _encode(columns: dict[str, list], kinds: list[str]) -> bytes:
    return pgbinary.tuples([pgbinary.field_array(_column(v, k), k) for v, k in zip(columns.values(), kinds, strict=True)])


@st.composite
def tables(draw):
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    n = draw(st.integers(0, 12))
    return kinds, {f"c{i}": [draw(VALUES[k]) for _ in range(n)] for i, k in enumerate(kinds)}


@settings(max_examples=200, deadline=None)
@given(tables())
def test_vectorised_encoding_matches_the_value_by_value_twin(table):
    kinds, columns = table
    rows = list(zip(*columns.values(), strict=True))
    assert _encode(columns, kinds) == copy_binary_rows(rows, kinds)


def test_edge_cases_match_the_twin():
    columns = {"text": ["", None, "héllo – ünïcode", "x" * 200],
               "float8": [0.0, -0.0, math.nan, 1e300],
               "timestamptz": [dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC), None,
                               dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)],
               "bool": [True, None, False, None]}
    kinds = list(columns)
    assert _encode(columns, kinds) == copy_binary_rows(list(zip(*columns.values(), strict=True)), kinds)
    assert _encode({"c": []}, ["int8"]) == b""


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match="kind='uuid'.*text, timestamptz, int4"):
        pgbinary.field_array([1], "uuid")


def test_postgres_stores_what_was_encoded(postgres_url):
    columns = {"t": ["a", None, "héllo", ""], "i": [1, None, -(2**40), 7], "f": [1.5, math.nan, -2.0, 1e-300],
               "ts": [dt.datetime(2024, 1, 1, 0, 7, tzinfo=dt.UTC), dt.datetime(1999, 12, 31, 23, 59, 59, 500_000,
                                                                                  tzinfo=dt.UTC), None,
                      dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)],
               "b": [True, None, False, True]}
    kinds = ["text", "int8", "float8", "timestamptz", "bool"]
    data = pgbinary.HEADER + _encode(columns, kinds) + pgbinary.TRAILER
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE TEMP TABLE encoded (t varchar(10), i bigint, f float8, ts timestamptz, b boolean)")
        with conn.cursor().copy("COPY encoded FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)
        stored = conn.execute("SELECT * FROM encoded").fetchall()
    expected = [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
                for row in zip(*columns.values(), strict=True)]
    assert stored == expected
