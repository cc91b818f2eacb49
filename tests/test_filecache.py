"""The folder of arrays that keeps expensive, never-changing results (each week's Gi* p-values)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from hotspots.core.filecache import ArrayFileCache

KEY = "ab" * 20


def test_round_trip_and_nothing_half_written(tmp_path):
    cache = ArrayFileCache(tmp_path / "c")
    assert cache.get(KEY) is None and len(cache) == 0
    cache[KEY] = np.arange(5.0)
    np.testing.assert_array_equal(cache[KEY], np.arange(5.0))
    assert list(cache) == [KEY] and [p.name for p in (tmp_path / "c").iterdir()] == [f"{KEY}.npy"]
    del cache[KEY]
    assert KEY not in cache
    with pytest.raises(KeyError):
        cache["not a digest"] = np.zeros(1)


def test_least_recently_used_entries_go_first(tmp_path):
    cache = ArrayFileCache(tmp_path, max_entries=2)
    keys = [f"{i:040x}" for i in range(3)]
    for i, key in enumerate(keys[:2]):
        cache[key] = np.full(2, i)
        os.utime(tmp_path / f"{key}.npy", ns=(i * 10**9, i * 10**9))
    cache[keys[0]]  # used: now the most recent
    cache[keys[2]] = np.full(2, 2)
    assert set(cache) == {keys[0], keys[2]}


def test_a_damaged_entry_is_a_miss(tmp_path, caplog):
    cache = ArrayFileCache(tmp_path)
    (tmp_path / f"{KEY}.npy").write_bytes(b"not numpy")
    with caplog.at_level(logging.WARNING):
        assert cache.get(KEY) is None
    assert "unreadable" in caplog.text


def test_a_folder_that_cannot_be_written_forgets_without_failing(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    cache = ArrayFileCache(blocked / "cache")
    with caplog.at_level(logging.WARNING):
        cache[KEY] = np.zeros(3)
        cache[KEY[::-1]] = np.zeros(3)
    assert cache.get(KEY) is None and caplog.text.count("not writable") == 1
