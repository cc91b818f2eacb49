"""Getis-Ord Gi* on H3 neighbourhoods: where is a high count surrounded by high counts?

``hotspot_gistar`` is the analyst's verb. The neighbourhood of a cell is every cell of the
region within ``k`` grid steps, the cell itself included (the "star"), with binary weights.
The z-score is the analytical one of Getis and Ord (1995), identical to PySAL esda's
``G_Local(y, w, transform="B", star=True).Zs`` on the same weights; the p-value comes from
conditional permutation (the cell's own value fixed, its neighbours drawn from the rest), with
Besag and Clifford's sequential stopping so that clearly unremarkable cells stop early; and the
Benjamini-Hochberg procedure controls the false discovery rate over the tens of thousands of
cells a force has.

Every cell of the region takes part, empty ones included: leaving out zeros would make the
mean the mean of where crime happened and hide the contrast Gi* is for.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import MutableMapping
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
from h3ronpy import grid_disk
from scipy.special import erfc

from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells
from hotspots.places._gistar_numba import gistar_permutation_p, gistar_permutation_p_periods

log = logging.getLogger(__name__)

#: Columns of the Gi* table, in order.
GISTAR_COLUMNS = ["h3_cell", "value", "gi_star_z", "p_value", "q_value", "gi_class"]
#: Confidence bins of the classes, strictest first: (false discovery rate, label).
CONFIDENCE = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))
NOT_SIGNIFICANT = "not significant"
#: Most permutations per cell. The false discovery rate over n cells can only reject a cell whose
#: p-value is below about rate·r/n, and a permutation p-value is never below 1/(permutations+1):
#: with 67,000 cells, 999 permutations cannot find any hot spot. Sequential stopping means only
#: the few remarkable cells run this many: a force-wide synthetic week drew 173 a cell on average.
DEFAULT_PERMUTATIONS = 99_999
#: Besag-Clifford: stop a cell after this many draws at least as extreme as the observed sum.
DEFAULT_STOP_AFTER = 20


def neighbourhood(cells: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of each cell within ``k`` grid steps, among ``cells`` only, self left out.

    cells : sorted unique uint64 H3 cells, shape (n,).
    Returns CSR arrays ``indptr`` (n + 1,) and ``indices`` (int64), neighbours in ascending order.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValidationError(f"k={k!r} must be a whole number of grid steps, 1 or more", arguments="k")
    if cells.size and np.any(cells[1:] <= cells[:-1]):
        raise ValidationError("cells must be sorted and unique (as Area.cells returns them)")
    if cells.size == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    # The emerging-hotspot classes ask for the same region's rings once per period: built once.
    return _rings(cells.tobytes(), int(k))


@lru_cache(maxsize=4)
def _rings(cells_bytes: bytes, k: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR rings of the sorted cells in ``cells_bytes``; read-only, since they are shared."""
    cells = np.frombuffer(cells_bytes, dtype=np.uint64)
    disks = pa.array(grid_disk(pa.array(cells), int(k), flatten=False))
    offsets = disks.offsets.to_numpy()
    ring = disks.values.to_numpy(zero_copy_only=False).astype(np.uint64)
    owner = np.repeat(np.arange(cells.size), np.diff(offsets))
    pos = np.searchsorted(cells, ring).clip(max=cells.size - 1)
    keep = (cells[pos] == ring) & (pos != owner)
    owner, pos = owner[keep], pos[keep]
    order = np.lexsort((pos, owner))
    indptr = np.zeros(cells.size + 1, np.int64)
    np.add.at(indptr, owner + 1, 1)
    indptr, indices = np.cumsum(indptr), pos[order].astype(np.int64)
    indptr.setflags(write=False)
    indices.setflags(write=False)
    return indptr, indices


def gi_star_z(values: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Analytical Gi* z-score of each cell (binary weights, self included); shape (n,).

    z = (Σ_{j∈N*(i)} x_j − c_i x̄) / (s √((n c_i − c_i²) / (n − 1))), with c_i the size of the
    neighbourhood including the cell and s the population standard deviation of x. Where x is
    constant there is no contrast to measure and z is 0.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return np.zeros(n)
    owner = np.repeat(np.arange(n), np.diff(indptr))
    local = x + np.bincount(owner, weights=x[indices], minlength=n)
    card = 1.0 + np.diff(indptr)
    mean = x.mean()
    sd = np.sqrt(max((x * x).mean() - mean * mean, 0.0))
    if sd <= 1e-12 * max(abs(mean), 1.0):
        return np.zeros(n)
    spread = sd * np.sqrt(np.maximum(n * card - card * card, 0.0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (local - card * mean) / spread
    # A cell whose neighbourhood is the whole region cannot differ from it.
    return np.where(spread > 0, z, 0.0)


def false_discovery_q(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): reject where q ≤ the chosen rate."""
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(n)
    out[order] = q
    return out


def classify(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """'hot 99%', 'cold 95%', ... or 'not significant', from the sign of z and the q-value."""
    label = np.full(z.shape, NOT_SIGNIFICANT, dtype=object)
    for rate, conf in CONFIDENCE[::-1]:  # strictest last, so it wins
        significant = q <= rate
        label[significant & (z > 0)] = f"hot {conf}"
        label[significant & (z < 0)] = f"cold {conf}"
    return label


def hotspot_gistar(
    values,
    cells: np.ndarray,
    *,
    k: int = 2,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    stop_after: int = DEFAULT_STOP_AFTER,
) -> pd.DataFrame:
    """Gi* z-score, permutation p-value, FDR q-value and class for every cell of a region.

    Parameters
    ----------
    values : pandas Series indexed by H3 hex string (cells absent count 0), or an array aligned
        with ``cells``; counts or harm per cell.
    cells : sorted unique uint64 cells of the region, shape (n,).
    k : neighbourhood radius in grid steps; at resolution 10, k=2 reaches about 200 m.
    permutations : most conditional permutations per cell (see DEFAULT_PERMUTATIONS); 0 uses the
        normal approximation, which is anti-conservative for sparse, skewed counts.
    seed : seed of the permutations; the same seed gives the same p-values on any machine.
    stop_after : Besag-Clifford sequential stopping (0 runs every permutation for every cell).

    Returns
    -------
    DataFrame with GISTAR_COLUMNS, one row per cell, in the order of ``cells``.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if isinstance(values, pd.Series):
        x = values.groupby(level=0).sum().reindex(h3cells.to_strings(cells), fill_value=0.0).to_numpy(float)
    else:
        x = np.asarray(values, dtype=float)
        if x.shape != cells.shape:
            raise ValidationError(f"values has shape {x.shape} but cells has {cells.shape}; give one value per cell")
    if not np.isfinite(x).all():
        raise ValidationError("values contain NaN or infinity; give a count or harm per cell")
    _check_permutations(permutations, seed)
    indptr, indices = neighbourhood(cells, k)
    z = gi_star_z(x, indptr, indices)
    if permutations:
        p, used = gistar_permutation_p(x, indptr, indices, int(permutations), int(seed), int(stop_after))
        log.info("Gi*: %d cells, k=%d, %d permutations at most (%.0f drawn on average, seed %d)",
                 x.size, k, permutations, used.mean() if used.size else 0, seed)
    else:
        p = 0.5 * erfc(np.abs(z) / np.sqrt(2.0))
    q = false_discovery_q(p)
    frame = pd.DataFrame({"h3_cell": h3cells.to_strings(cells), "value": x, "gi_star_z": z, "p_value": p,
                          "q_value": q, "gi_class": classify(z, q)})
    frame.attrs.update(k=k, permutations=permutations, seed=seed, stop_after=stop_after)
    return frame


def _check_permutations(permutations: int, seed: int) -> None:
    if isinstance(permutations, bool) or int(permutations) != permutations or permutations < 0:
        raise ValidationError(f"permutations={permutations!r} must be a whole number, 0 for the normal approximation", arguments="permutations")
    if int(seed) != seed or seed < 0:
        raise ValidationError(f"seed={seed!r} must be a whole number, 0 or more", arguments="seed")


def _permutation_p_periods(x, cells, indptr, indices, k, permutations, seed, stop_after, cache) -> np.ndarray:
    """Permutation p-values (n, periods): kept periods from ``cache``, the others drawn (and kept)."""
    keys = [period_key(cells, x[:, t], k, permutations, seed, stop_after) if cache is not None else None
            for t in range(x.shape[1])]
    p = np.empty_like(x)
    todo = []
    for t, key in enumerate(keys):
        kept = cache.get(key) if key is not None else None
        if kept is not None and np.shape(kept) == (x.shape[0],):
            p[:, t] = kept
        else:
            todo.append(t)
    if todo:
        drawn, used = gistar_permutation_p_periods(np.ascontiguousarray(x[:, todo]), indptr, indices, permutations,
                                                   seed, stop_after)
        p[:, todo] = drawn
        if cache is not None:
            for j, t in enumerate(todo):
                cache[keys[t]] = drawn[:, j].copy()
        log.info("Gi* over %d periods (%d kept from earlier runs): %d cells, k=%d, %d permutations at most (%.0f "
                 "drawn a cell on average, shared by the periods, seed %d)", x.shape[1], x.shape[1] - len(todo),
                 x.shape[0], k, permutations, used.max(axis=1).mean() if used.size else 0, seed)
    else:
        log.info("Gi* over %d periods: every period's p-values kept from earlier runs", x.shape[1])
    return p


def period_key(cells: np.ndarray, column: np.ndarray, k: int, permutations: int, seed: int, stop_after: int) -> str:
    """What one period's permutation p-values depend on, as a BLAKE2b hex digest.

    Parameters
    ----------
    cells : sorted uint64 cells of the region, shape (n,).
    column : the period's values at those cells, shape (n,).
    k, permutations, seed, stop_after : the Gi* settings (see :func:`hotspot_gistar`).

    Returns
    -------
    str
        40 hex digits; a new kernel version changes the text hashed with them.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"gistar-p v1 k={k} permutations={permutations} seed={seed} stop_after={stop_after}".encode())
    digest.update(np.ascontiguousarray(cells, dtype=np.uint64).tobytes())
    digest.update(np.ascontiguousarray(column, dtype=np.float64).tobytes())
    return digest.hexdigest()


def gistar_periods(
    values: np.ndarray,
    cells: np.ndarray,
    *,
    k: int = 2,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    stop_after: int = DEFAULT_STOP_AFTER,
    cache: MutableMapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and FDR q-values of every cell in each of several periods of one region.

    Period t gets what :func:`hotspot_gistar` gives its column with the same ``seed``; the
    periods share one stream of permutation draws per cell, drawn once (see
    :func:`hotspots.places._gistar_numba.gistar_permutation_p_periods`).

    Because a period's p-values depend only on its own column, the region and the settings (not on
    which other periods are drawn with it), they can be kept: ``cache`` maps :func:`period_key` to
    a period's p-values, shape (n,). Periods found there are not drawn again, and the ones drawn are
    added; next week's emerging classes then draw only the newest week.

    Parameters
    ----------
    values : float (n, periods), the variable at every cell (zeros included) in each period.
    cells : sorted unique uint64 cells of the region, shape (n,).
    k, permutations, seed, stop_after : as for :func:`hotspot_gistar`.
    cache : p-values of periods already drawn, by :func:`period_key` (a dict, or a store of them).

    Returns
    -------
    (z, q) : float64 arrays (n, periods).
    """
    cells = np.asarray(cells, dtype=np.uint64)
    x = np.ascontiguousarray(values, dtype=float)
    if x.ndim != 2 or x.shape[0] != cells.size:
        raise ValidationError(f"values has shape {x.shape} but cells has {cells.shape}; give one row per cell")
    if not np.isfinite(x).all():
        raise ValidationError("values contain NaN or infinity; give a count or harm per cell")
    _check_permutations(permutations, seed)
    indptr, indices = neighbourhood(cells, k)
    z = np.column_stack([gi_star_z(x[:, t], indptr, indices) for t in range(x.shape[1])]) if x.shape[1] else x.copy()
    if permutations:
        p = _permutation_p_periods(x, cells, indptr, indices, k, int(permutations), int(seed), int(stop_after), cache)
    else:
        p = 0.5 * erfc(np.abs(z) / np.sqrt(2.0))
    q = np.column_stack([false_discovery_q(p[:, t]) for t in range(p.shape[1])]) if p.shape[1] else p.copy()
    return z, q
