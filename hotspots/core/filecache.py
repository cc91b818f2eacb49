"""A folder of NumPy arrays by content key: results that are expensive to compute and never change.

Keys name what a result depends on (a digest of its inputs and settings), so an entry is never
stale and two processes, or two stores, can share the folder. Writes are atomic (a temporary file,
then a rename); a damaged or unreadable entry is a miss. The cache only saves time: a full or
read-only disk makes it forget, logged once, and never fails the job that uses it. The least
recently used entries beyond ``max_entries`` are removed.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{16,128}")


class ArrayFileCache(MutableMapping[str, np.ndarray]):
    """Arrays stored as ``<key>.npy`` in ``folder`` (created when first written).

    Parameters
    ----------
    folder : where the arrays live.
    max_entries : most arrays kept; the least recently used beyond it are removed.
    """

    def __init__(self, folder: str | Path, max_entries: int = 64):
        self.folder = Path(folder)
        self.max_entries = int(max_entries)
        self._warned = False

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise KeyError(f"cache keys are hex digests, not {key!r}")
        return self.folder / f"{key}.npy"

    def __getitem__(self, key: str) -> np.ndarray:
        path = self._path(key)
        try:
            value = np.load(path, allow_pickle=False)
            os.utime(path)  # recently used
        except FileNotFoundError:
            raise KeyError(key) from None
        except (OSError, ValueError) as exc:  # damaged or unreadable: recompute
            log.warning("cache entry %s unreadable (%s); it will be computed again", path.name, exc)
            raise KeyError(key) from None
        return value

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        path = self._path(key)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                np.save(out, np.asarray(value), allow_pickle=False)
            os.replace(tmp, path)
            tmp = None
            self._prune()
        except OSError as exc:
            if not self._warned:
                log.warning("cache folder %s not writable (%s): results are not kept", self.folder, exc)
                self._warned = True
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def __delitem__(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if p.suffix == ".npy" and _KEY.fullmatch(p.stem)]
        except FileNotFoundError:
            return []

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.stem for p in self._files()))

    def __len__(self) -> int:
        return len(self._files())

    def _prune(self) -> None:
        files = self._files()
        if len(files) <= self.max_entries:
            return
        by_use = sorted(files, key=lambda p: p.stat().st_mtime_ns)
        for old in by_use[: len(files) - self.max_entries]:
            old.unlink(missing_ok=True)
