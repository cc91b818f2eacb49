"""Fuzzing ingest with the files forces really send (tests/damage.py), through the command line, on
SQLite and PostgreSQL: exit status 0 or 2 and never a traceback; every data line stored, rejected
with its physical line, or counted as a repeat; a failed file stores nothing; a reload adds nothing."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from damage import FILE_KINDS, ROW_KINDS, damaged_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hotspots.cli import main
from hotspots.store import open_store
from hotspots.store.schema import incidents, load_batches, rejected_rows

_files = itertools.count()

files = st.tuples(st.lists(st.sampled_from(sorted(ROW_KINDS)), max_size=30), st.sampled_from(sorted(FILE_KINDS)),
                  st.integers(0, 2**32 - 1))


def check_one_file(url, folder, kinds, file_kind, seed, capsys):
    """Load one generated file through ``hotspots ingest`` and check every line's fate."""
    n = next(_files)
    made = damaged_file(kinds, file_kind, seed, prefix=f"f{n}-{seed}")
    path = folder / f"incidents-{n}{made.suffix}"
    path.write_bytes(made.data)
    store = open_store(url)
    with store.engine.connect() as conn:
        batches_before = conn.execute(select(func.count()).select_from(load_batches)).scalar()
        stored_before = conn.execute(select(func.count()).select_from(incidents)).scalar()
    args = ["ingest", str(path), "--db", url, "--force-area", "none", "--rejects-dir", str(folder / "rejects")]
    if made.encoding:
        args += ["--encoding", made.encoding]
    capsys.readouterr()
    code = main(args)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    context = (file_kind, kinds)
    if not made.must_load:
        assert code == 2 and len(errors) == 1 and path.name in errors[0], context
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(load_batches)).scalar() == batches_before, context
            assert conn.execute(select(func.count()).select_from(incidents)).scalar() == stored_before, context
        store.dispose()
        return
    assert code == 0 and not errors, (context, errors)
    with store.engine.connect() as conn:
        batch = conn.execute(select(load_batches.c.batch_id)  # these bytes may have come before
                             .where(load_batches.c.sha256 == hashlib.sha256(made.data).hexdigest())).scalar()
        stored = set(conn.execute(select(incidents.c.source_line).where(incidents.c.batch_id == batch)).scalars())
        rejected = dict(conn.execute(select(rejected_rows.c.line, rejected_rows.c.reason)
                                     .where(rejected_rows.c.batch_id == batch)).all())
    assert not stored & rejected.keys(), context
    for line, fate in made.fates.items():
        if fate == "stored":
            assert line in stored, (context, line, rejected.get(line))
        elif fate == "rejected":
            assert line in rejected, (context, line)
        elif fate == "duplicate":
            assert line not in rejected, (context, line, rejected.get(line))
        else:
            assert line in stored or line in rejected, (context, line)
    assert stored | rejected.keys() <= set(made.fates), context  # nothing invented, blank lines not counted
    with store.engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(t)).scalar() for t in (incidents, load_batches)]
    assert main(args) == 0  # the same file again adds nothing
    with store.engine.connect() as conn:
        assert [conn.execute(select(func.count()).select_from(t)).scalar() for t in (incidents, load_batches)] == counts
    store.dispose()


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(file=files)
def test_every_line_of_a_damaged_file_is_stored_or_rejected(store_url, tmp_path, capsys, file):
    check_one_file(store_url, tmp_path, *file, capsys)


@pytest.mark.parametrize("file_kind", sorted(FILE_KINDS))
def test_each_file_kind_with_every_row_kind(store_url, tmp_path, capsys, file_kind):
    """Every row kind once in every file kind, so each pairing is met whatever the fuzzer draws."""
    check_one_file(store_url, tmp_path, sorted(ROW_KINDS) + ["good"] * 12, file_kind, 7, capsys)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(file=files)
def test_a_longer_fuzz_on_sqlite(tmp_path, capsys, file):
    check_one_file(f"sqlite:///{tmp_path / 'fuzz.sqlite'}", tmp_path, *file, capsys)
