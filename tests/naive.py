"""Slow, obvious twins of the numba kernels in hotspots._kde_numba, for the tests to compare with.

Each takes the same arrays as its kernel and does the same arithmetic the plainest way: every
source against every target, no buckets, no threads.
"""

from __future__ import annotations

import numpy as np

from hotspots.kernels import Kernel


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
    col = np.floor((x - x0) / size)
    row = np.floor((y - y0) / size)
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
