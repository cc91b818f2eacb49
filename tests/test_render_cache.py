"""The per-process cache of rendered immutable records (api/cache.py)."""

import threading
import time

import pytest

from api.cache import RenderCache


def test_concurrent_misses_render_once_and_all_get_the_result():
    cache = RenderCache(size=4)
    calls = []
    start = threading.Barrier(12)

    def render():
        calls.append(1)
        time.sleep(0.2)  # long enough that every thread asks while it runs
        return b"rendered"

    results = []

    def ask():
        start.wait()
        results.append(cache.get(("roster-file", 1, "csv"), render))

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [b"rendered"] * 12


def test_a_failed_render_is_not_kept_and_the_next_caller_renders_again():
    cache = RenderCache(size=4)

    def broken():
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cache.get(("set", 1), broken)
    assert cache.get(("set", 1), lambda: "ok") == "ok"


def test_least_recently_used_beyond_size_is_dropped():
    cache = RenderCache(size=2)
    for k in range(3):
        cache.get(("k", k), lambda k=k: k)
    cache.get(("k", 0), lambda: "again")
    assert cache.get(("k", 0), lambda: "again") == "again"  # key 0 was dropped, so rendered anew
