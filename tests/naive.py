"""Slow, obvious twins of the numba kernels in hotspots.density._kde_numba and of the vectorised trial
code (visits from pings, the randomisation score statistic), for the tests to compare with.

Each takes the same arrays as its kernel and does the same arithmetic the plainest way: every
source against every target, no buckets, no threads.
"""

from __future__ import annotations

import numpy as np

from hotspots.density.kernels import Kernel


def kernel_sums(x, y, w, tx, ty, kernel: Kernel, bandwidth: float) -> np.ndarray:
    """Σ w p(|t - s|² / h²) at each target, brute force; shape (len(tx),)."""
    out = np.zeros(len(tx))
    inv_h2 = 1.0 / (bandwidth * bandwidth)
    for t in range(len(tx)):
        dx = x - tx[t]
        dy = y - ty[t]
        out[t] = np.sum(w * kernel.profile((dx * dx + dy * dy) * inv_h2))
    return out


def bucket_sort(x, y, w, x0, y0, size, ncols, nrows):
    """Points inside the grid with non-zero weight, ordered by row-major bucket, stable."""
    inv = 1.0 / size  # the kernel's arithmetic: a point on a bucket edge lands in the same bucket
    col = np.floor((x - x0) * inv)
    row = np.floor((y - y0) * inv)
    keep = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows) & (w != 0)
    key = (row * ncols + col)[keep].astype(np.int64)
    order = np.argsort(key, kind="stable")
    starts = np.zeros(ncols * nrows + 1, np.int64)
    np.add.at(starts, key + 1, 1)
    return x[keep][order], y[keep][order], w[keep][order], np.cumsum(starts)


def nearest_centre(px, py, cx, cy, max_dist):
    """Index of each point's nearest centre within ``max_dist`` (lowest index on ties), else -1."""
    label = np.full(len(px), -1, np.int64)
    dist = np.full(len(px), np.inf)
    for i in range(len(px)):
        dx = cx - px[i]
        dy = cy - py[i]
        d2 = dx * dx + dy * dy
        if d2.size == 0:
            continue
        k = int(np.argmin(d2))
        if d2[k] <= max_dist * max_dist:
            label[i] = k
            dist[i] = np.sqrt(d2[k])
    return label, dist


_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix(state: int) -> tuple[int, int]:
    state = (state + _GOLDEN) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


def gistar_permutation_p(values, indptr, indices, permutations, seed, stop_after):
    """Twin of hotspots.places._gistar_numba.gistar_permutation_p: the same draws, one cell at a time in Python."""
    n = len(values)
    p = np.ones(n)
    used = np.zeros(n, np.int64)
    total = float(np.sum(values))
    for i in range(n):
        nbrs = indices[indptr[i]:indptr[i + 1]]
        deg = len(nbrs)
        if deg == 0 or n < 2:
            continue
        observed = values[i] + float(np.sum(values[nbrs]))
        tol = 1e-9 * (abs(observed) + 1.0)  # sums this close are ties (the kernel's _TIE)
        upper = observed >= values[i] + deg * (total - values[i]) / (n - 1) - tol
        state = (seed * _GOLDEN + i * 0xD1B54A32D192ED03) & _MASK
        extreme = done = 0
        for _ in range(permutations):
            chosen: list[int] = []
            while len(chosen) < deg:
                state, bits = _splitmix(state)
                j = ((bits >> 32) * (n - 1)) >> 32
                j += j >= i
                if j not in chosen:
                    chosen.append(j)
            s = values[i] + float(np.sum(values[chosen]))
            done += 1
            if (upper and s >= observed - tol) or (not upper and s <= observed + tol):
                extreme += 1
                if stop_after and extreme >= stop_after:
                    break
        used[i] = done
        p[i] = extreme / done if stop_after and extreme >= stop_after else (extreme + 1) / (done + 1)
    return p, used


def sepp_estep(times, starts, mu, theta, omega):
    """The grid SEPP E-step by brute force: every earlier event of the cell against every event."""
    m = len(starts) - 1
    background, triggered, triggered_lag, loglik = (np.zeros(m) for _ in range(4))
    for c in range(m):
        t = times[starts[c]:starts[c + 1]]
        for i in range(t.size):
            lag = t[i] - t[t < t[i]]
            g = theta * omega * np.exp(-omega * lag)
            lam = mu[c] + g.sum()
            background[c] += mu[c] / lam
            triggered[c] += g.sum() / lam
            triggered_lag[c] += (g * lag).sum() / lam
            loglik[c] += np.log(lam)
    return background, triggered, triggered_lag, loglik


def visits_loop(units, seconds, places, max_gap_s, min_visit_s):
    """Visits the plainest way: walk each unit's pings in time order, inside-hotspot pings only.

    ``places`` is the hotspot index of each ping (-1 outside every hotspot). Returns a list of
    (unit, place, first second, last second, pings), in unit then time order.
    """
    out = []
    for unit in sorted(set(units)):
        idx = sorted((i for i in range(len(units)) if units[i] == unit and places[i] >= 0), key=lambda i: seconds[i])
        current = None
        for i in idx:
            if current and current[1] == places[i] and seconds[i] - current[3] <= max_gap_s:
                current[3] = seconds[i]
                current[4] += 1
                continue
            if current and current[3] - current[2] >= min_visit_s:
                out.append(tuple(current))
            current = [unit, places[i], seconds[i], seconds[i], 1]
        if current and current[3] - current[2] >= min_visit_s:
            out.append(tuple(current))
    return out


def score_statistic_loop(outcome, treated_draws):
    """Σ over patrolled place-periods of (observed - row total x column total / grand total), per draw."""
    n, t = outcome.shape
    total = outcome.sum()
    rows, cols = outcome.sum(axis=1), outcome.sum(axis=0)
    out = []
    for d in treated_draws:
        s = 0.0
        for i in range(n):
            for j in range(t):
                if d[i][j]:
                    s += outcome[i, j] - (rows[i] * cols[j] / total if total > 0 else 0.0)
        out.append(s)
    return np.array(out)


def lookup_labels(px, py, pw, table, x0, y0, pixel, ncols, nrows, cx, cy):
    """Slow twin of ``_kde_numba.lookup_labels``: each point's pixel's bin (-1: outside or none), and
    the furthest a weighted point moves to its bin's centre."""
    col, row = np.floor((px - x0) / pixel), np.floor((py - y0) / pixel)
    inside = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows)
    label = np.full(px.size, -1, np.int64)
    label[inside] = table[(row * ncols + col)[inside].astype(int)]
    hit = (label >= 0) & (pw != 0)
    far = np.hypot(cx[label[hit]] - px[hit], cy[label[hit]] - py[hit]).max() if hit.any() else 0.0
    return label, far


def weight_near(x, y, w, tx, ty, x0, y0, size, ncols, nrows, radius, slack):
    """Slow twin of ``_kde_numba.weight_near``, from the unsorted points: the weight of every point
    whose bucket a disc of radius ``radius * (1 + slack)`` around the target reaches.

    A bucket row is reached when the disc meets its strip; a bucket in it when its x-interval
    meets the disc's chord at the strip's nearest edge. Shape (len(tx),).
    """
    inv = 1.0 / size  # the kernel's bucket arithmetic, so a point on a bucket edge lands where it does there
    col, row = np.floor((x - x0) * inv), np.floor((y - y0) * inv)
    keep = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows) & (w != 0)
    col, row, w = col[keep], row[keep], w[keep]
    pad = radius * (1.0 + slack)
    out = np.zeros(len(tx))
    for t in range(len(tx)):
        strip_lo, strip_hi = y0 + row * size, y0 + (row + 1) * size
        gap = np.maximum(np.maximum(strip_lo - ty[t], ty[t] - strip_hi), 0.0)
        rows_reached = ((row >= np.floor((ty[t] - pad - y0) / size)) & (row <= np.floor((ty[t] + pad - y0) / size))
                        & (gap <= pad))
        half = np.sqrt(np.maximum(pad * pad - gap * gap, 0.0))
        cols_reached = ((col >= np.floor((tx[t] - half - x0) / size)) & (col <= np.floor((tx[t] + half - x0) / size)))
        out[t] = w[rows_reached & cols_reached].sum()
    return out


def copy_binary_rows(rows: list[tuple], kinds: list[str]) -> bytes:
    """PostgreSQL binary COPY tuples written one value at a time with struct (hotspots.store.pgbinary's twin).

    rows : tuples of Python values (None for NULL; datetimes aware; floats NaN for NULL).
    kinds : each column's kind, as pgbinary.KINDS.
    """
    import datetime as dt
    import math
    import struct

    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    out = bytearray()
    for row in rows:
        out += struct.pack(">h", len(kinds))
        for value, kind in zip(row, kinds, strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                out += struct.pack(">i", -1)
            elif kind == "text":
                data = value.encode()
                out += struct.pack(">i", len(data)) + data
            elif kind == "timestamptz":
                delta = value - epoch
                out += struct.pack(">iq", 8, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
            else:
                fmt = {"int4": ">i", "int8": ">q", "float8": ">d", "bool": ">?"}[kind]
                out += struct.pack(">i", struct.calcsize(fmt)) + struct.pack(fmt, value)
    return bytes(out)
