"""A per-process cache of rendered immutable records.

Issued rosters and stored hotspot sets never change (the database refuses it, and a reissue is a
new id), so what a route renders from one can be kept and served again: the fingerprint is
checked on the first load, and every download is still audited each time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class RenderCache:
    """Least-recently-used map from a key to a rendered value, safe across the worker's threads."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        # One thread renders a key while the others asking for it wait for its result: under load,
        # forty threads rendering the same 4,768-visit roster at once took seconds each.
        with making:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                value = make()
                with self._lock:
                    self._items[key] = value
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
            finally:
                with self._lock:
                    self._making.pop(key, None)
        return value
