"""The numba kernels behind :mod:`hotspots.density.kde`: arrays and scalars in, arrays out.

Nothing here validates; :mod:`hotspots.density.kde` converts and checks inputs first. Each kernel has a
slow NumPy twin in ``tests/naive.py`` that the tests compare it with.

Spatial index: a square bucket grid. Sources are counting-sorted by bucket (row-major), so the
sources of a run of buckets along one row sit next to each other in memory. A target then reads,
for each bucket row its kernel reaches, one contiguous slice covering the chord of its disc: with
buckets a quarter of the reach wide, it reads about 1.3 times the sources the kernel touches.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from hotspots.core.numba_config import JIT, PARALLEL_JIT
from hotspots.density.kernels import EPANECHNIKOV, QUARTIC, TRIANGULAR, UNIFORM

# Ranges of buckets are widened by this fraction of the reach, so rounding in the range
# arithmetic never drops a source the kernel would count; the kernel itself decides.
_RANGE_SLACK = 1e-9


@njit(**JIT)
def _profile(code, u2, reach2):
    """Kernel profile p(u²), zero at and beyond the reach (see hotspots.density.kernels); one pair at a time."""
    if u2 >= reach2:
        return 0.0
    if code == QUARTIC:
        t = 1.0 - u2
        return t * t
    if code == EPANECHNIKOV:
        return 1.0 - u2
    if code == TRIANGULAR:
        return 1.0 - math.sqrt(u2)
    if code == UNIFORM:
        return 1.0
    return math.exp(-0.5 * u2)


# One loop per kernel over a contiguous run of sources, each written without branches so LLVM
# vectorises it; they must give exactly what _profile gives (max(1 - u², 0) is 0 from u² = 1 on).
# Each loops over slices from index 0: with a start LLVM cannot prove non-negative, numba's
# negative-index wraparound check stays in the loop and blocks vectorisation (measured 6x slower).

@njit(**JIT)
def _run_quartic(sx, sy, sw, lo, hi, cx, cy, inv_h2):
    acc = 0.0
    xs, ys, ws = sx[lo:hi], sy[lo:hi], sw[lo:hi]
    for k in range(xs.size):
        dx = xs[k] - cx
        dy = ys[k] - cy
        t = max(1.0 - (dx * dx + dy * dy) * inv_h2, 0.0)
        acc += ws[k] * (t * t)
    return acc


@njit(**JIT)
def _run_epanechnikov(sx, sy, sw, lo, hi, cx, cy, inv_h2):
    acc = 0.0
    xs, ys, ws = sx[lo:hi], sy[lo:hi], sw[lo:hi]
    for k in range(xs.size):
        dx = xs[k] - cx
        dy = ys[k] - cy
        acc += ws[k] * max(1.0 - (dx * dx + dy * dy) * inv_h2, 0.0)
    return acc


@njit(**JIT)
def _run_triangular(sx, sy, sw, lo, hi, cx, cy, inv_h2):
    acc = 0.0
    xs, ys, ws = sx[lo:hi], sy[lo:hi], sw[lo:hi]
    for k in range(xs.size):
        dx = xs[k] - cx
        dy = ys[k] - cy
        acc += ws[k] * max(1.0 - math.sqrt((dx * dx + dy * dy) * inv_h2), 0.0)
    return acc


@njit(**JIT)
def _run_uniform(sx, sy, sw, lo, hi, cx, cy, inv_h2):
    acc = 0.0
    xs, ys, ws = sx[lo:hi], sy[lo:hi], sw[lo:hi]
    for k in range(xs.size):
        dx = xs[k] - cx
        dy = ys[k] - cy
        acc += ws[k] if (dx * dx + dy * dy) * inv_h2 < 1.0 else 0.0
    return acc


@njit(**JIT)
def _run_any(code, sx, sy, sw, lo, hi, cx, cy, inv_h2, reach2):
    acc = 0.0
    xs, ys, ws = sx[lo:hi], sy[lo:hi], sw[lo:hi]
    for k in range(xs.size):
        dx = xs[k] - cx
        dy = ys[k] - cy
        acc += ws[k] * _profile(code, (dx * dx + dy * dy) * inv_h2, reach2)
    return acc


@njit(**JIT)
def _run(code, sx, sy, sw, lo, hi, cx, cy, inv_h2, reach2):
    """Σ w p(u²) over sources ``lo:hi`` for the target at (cx, cy)."""
    if code == QUARTIC:
        return _run_quartic(sx, sy, sw, lo, hi, cx, cy, inv_h2)
    if code == EPANECHNIKOV:
        return _run_epanechnikov(sx, sy, sw, lo, hi, cx, cy, inv_h2)
    if code == TRIANGULAR:
        return _run_triangular(sx, sy, sw, lo, hi, cx, cy, inv_h2)
    if code == UNIFORM:
        return _run_uniform(sx, sy, sw, lo, hi, cx, cy, inv_h2)
    return _run_any(code, sx, sy, sw, lo, hi, cx, cy, inv_h2, reach2)


@njit(**JIT)
def _bucket_of(v, origin, inv_size, n):
    """Bucket index of coordinate ``v`` along an axis of ``n`` buckets, or -1 outside."""
    f = (v - origin) * inv_size
    if not (f >= 0.0 and f < n):  # also catches NaN
        return -1
    return int(f)


@njit(**PARALLEL_JIT)
def bucket_sort(x, y, w, x0, y0, size, ncols, nrows, n_chunks):
    """Stable counting sort of weighted points into a ``nrows`` × ``ncols`` grid of ``size``-metre buckets.

    Points outside the grid or with zero weight are dropped. The points are cut into
    ``n_chunks`` runs; each thread counts and then places its own run using its own row of
    offsets, so no two threads write the same place. Within a bucket points keep their input
    order, so the result does not depend on the number of chunks or threads.

    Parameters
    ----------
    x, y : float64 (n,), projected coordinates in metres. w : float64 (n,), weights.
    x0, y0 : the grid's south-west corner, metres. size : bucket side, metres.
    ncols, nrows : buckets along x and y. n_chunks : runs of points, one per thread at a time.

    Returns
    -------
    sx, sy, sw : sorted coordinates and weights, shape (m,), m ≤ n.
    starts : int64 (nrows * ncols + 1,); bucket ``k`` holds ``starts[k]:starts[k + 1]``.
    """
    n = x.size
    inv = 1.0 / size
    nb = ncols * nrows
    keys = np.empty(n, np.int64)
    counts = np.zeros((n_chunks, nb), np.int64)
    step = -(-n // n_chunks)
    for c in prange(n_chunks):
        for i in range(c * step, min((c + 1) * step, n)):
            col = _bucket_of(x[i], x0, inv, ncols)
            row = _bucket_of(y[i], y0, inv, nrows)
            if col < 0 or row < 0 or w[i] == 0.0:
                keys[i] = -1
            else:
                k = row * ncols + col
                keys[i] = k
                counts[c, k] += 1
    starts = np.zeros(nb + 1, np.int64)
    offsets = np.empty((n_chunks, nb), np.int64)
    total = 0
    for k in range(nb):
        starts[k] = total
        for c in range(n_chunks):
            offsets[c, k] = total
            total += counts[c, k]
    starts[nb] = total
    sx = np.empty(total)
    sy = np.empty(total)
    sw = np.empty(total)
    for c in prange(n_chunks):
        fill = offsets[c]
        for i in range(c * step, min((c + 1) * step, n)):
            k = keys[i]
            if k >= 0:
                p = fill[k]
                sx[p] = x[i]
                sy[p] = y[i]
                sw[p] = w[i]
                fill[k] = p + 1
    return sx, sy, sw, starts


@njit(**PARALLEL_JIT)
def density_sums(tx, ty, block_order, block, sx, sy, sw, starts, x0, y0, size, ncols, nrows,
                 code, bandwidth, reach):
    """Σ w p(|t - s|² / h²) at each target, over bucket-sorted sources.

    ``block_order`` lists blocks of ``block`` consecutive targets in the order threads take
    them; targets should be in spatial order so a block reuses the same sources from cache.
    Each target's sum is written to its own slot (no shared accumulation).

    Parameters
    ----------
    tx, ty : float64 (m,), target coordinates, metres.
    block_order : int64, block indices in the order threads take them. block : targets per block.
    sx, sy, sw, starts : the sources as :func:`bucket_sort` returns them.
    x0, y0, size, ncols, nrows : the bucket grid (metres, metres, metres, counts).
    code : the kernel's registered code (:attr:`hotspots.density.kernels.Kernel.code`).
    bandwidth : ``h``, metres. reach : bandwidths at and beyond which the kernel is zero.

    Returns
    -------
    sums : float64 (m,), unnormalised (multiply by ``norm / h²`` for a density per m²).
    """
    m = tx.size
    out = np.zeros(m)
    inv_h2 = 1.0 / (bandwidth * bandwidth)
    reach2 = reach * reach
    radius = reach * bandwidth
    pad = radius * (1.0 + _RANGE_SLACK)
    for bi in prange(block_order.size):
        first = block_order[bi] * block
        last = min(first + block, m)
        for t in range(first, last):
            cx = tx[t]
            cy = ty[t]
            r_lo = max(int(math.floor((cy - pad - y0) / size)), 0)
            r_hi = min(int(math.floor((cy + pad - y0) / size)), nrows - 1)
            acc = 0.0
            for r in range(r_lo, r_hi + 1):
                c_lo, c_hi = _row_span(r, cx, cy, x0, y0, size, ncols, pad)
                if c_lo > c_hi:
                    continue
                acc += _run(code, sx, sy, sw, starts[r * ncols + c_lo], starts[r * ncols + c_hi + 1],
                            cx, cy, inv_h2, reach2)
            out[t] = acc
    return out


@njit(**JIT)
def _row_span(r, cx, cy, x0, y0, size, ncols, pad):
    """Columns ``(c_lo, c_hi)`` of bucket row ``r`` that a disc of radius ``pad`` at (cx, cy) reaches."""
    strip_lo = y0 + r * size
    strip_hi = strip_lo + size
    if cy < strip_lo:
        gap = strip_lo - cy
    elif cy > strip_hi:
        gap = cy - strip_hi
    else:
        gap = 0.0
    if gap > pad:
        return 0, -1
    half = math.sqrt(pad * pad - gap * gap)
    c_lo = max(int(math.floor((cx - half - x0) / size)), 0)
    c_hi = min(int(math.floor((cx + half - x0) / size)), ncols - 1)
    return c_lo, c_hi


@njit(**PARALLEL_JIT)
def weight_near(tx, ty, cum_w, starts, x0, y0, size, ncols, nrows, radius):
    """An upper bound on the source weight within ``radius`` of each target.

    The weight of whole buckets is read from ``cum_w``, the running sum of the bucket-sorted
    weights, so each target costs a few subtractions per bucket row; buckets overlap the disc,
    so the sum can only overstate.

    Parameters
    ----------
    tx, ty : float64 (m,), target coordinates, metres.
    cum_w : float64 (k + 1,), ``[0, cumsum(sw)]`` of the bucket-sorted weights.
    starts, x0, y0, size, ncols, nrows : the bucket grid as :func:`bucket_sort` used it.
    radius : metres.

    Returns
    -------
    near : float64 (m,), the weight of every bucket the disc reaches.
    """
    out = np.zeros(tx.size)
    pad = radius * (1.0 + _RANGE_SLACK)
    for t in prange(tx.size):
        cx = tx[t]
        cy = ty[t]
        acc = 0.0
        for r in range(max(int(math.floor((cy - pad - y0) / size)), 0),
                       min(int(math.floor((cy + pad - y0) / size)), nrows - 1) + 1):
            c_lo, c_hi = _row_span(r, cx, cy, x0, y0, size, ncols, pad)
            if c_lo <= c_hi:
                acc += cum_w[starts[r * ncols + c_hi + 1]] - cum_w[starts[r * ncols + c_lo]]
        out[t] = acc
    return out


@njit(**PARALLEL_JIT)
def nearest_centre(px, py, pw, cx, cy, starts, x0, y0, size, ncols, nrows, max_dist, n_chunks):
    """Index (into the bucket-sorted centres) of each point's nearest centre within ``max_dist``.

    Buckets must be at least ``2 * max_dist`` wide: the disc of radius ``max_dist`` around a point
    then lies in the 2 × 2 buckets nearest to it, two contiguous runs of centres. Ties go to the
    lowest index. Each of ``n_chunks`` runs of points keeps its own largest move; they are merged
    after.

    Parameters
    ----------
    px, py : float64 (n,), points, metres. pw : float64 (n,), their weights (zero: not counted in ``moved``).
    cx, cy : float64 (k,), bucket-sorted centres, metres; ``starts`` their bucket offsets.
    x0, y0, size, ncols, nrows : the centres' bucket grid (metres, metres, metres, counts).
    max_dist : metres. n_chunks : runs of points, one per thread at a time.

    Returns
    -------
    label : int64 (n,); -1 where no centre is within ``max_dist``.
    moved : the largest distance any point with non-zero weight was snapped, metres.
    """
    n = px.size
    label = np.full(n, -1, np.int64)
    far = np.zeros(n_chunks)
    inv = 1.0 / size
    allowed = max_dist * max_dist
    step = -(-n // n_chunks)
    for chunk in prange(n_chunks):
        chunk_far = 0.0
        for i in range(chunk * step, min((chunk + 1) * step, n)):
            x = px[i]
            y = py[i]
            fc = (x - x0) * inv
            fr = (y - y0) * inv
            if not (fc > -1.0 and fc < ncols + 1.0 and fr > -1.0 and fr < nrows + 1.0):
                continue
            col = int(math.floor(fc))
            row = int(math.floor(fr))
            other_col = col - 1 if fc - col < 0.5 else col + 1
            other_row = row - 1 if fr - row < 0.5 else row + 1
            c_lo = max(min(col, other_col), 0)
            c_hi = min(max(col, other_col), ncols - 1)
            if c_lo > c_hi:
                continue
            best = allowed
            found = -1
            for r in range(max(min(row, other_row), 0), min(max(row, other_row), nrows - 1) + 1):
                for k in range(starts[r * ncols + c_lo], starts[r * ncols + c_hi + 1]):
                    dx = cx[k] - x
                    dy = cy[k] - y
                    d2 = dx * dx + dy * dy
                    if d2 < best or (d2 == best and (found < 0 or k < found)):
                        best = d2
                        found = k
            if found >= 0:
                label[i] = found
                if pw[i] != 0.0 and best > chunk_far:
                    chunk_far = best
        far[chunk] = chunk_far
    return label, math.sqrt(far.max()) if n_chunks > 0 else 0.0


@njit(**PARALLEL_JIT)
def lookup_labels(px, py, pw, table, x0, y0, pixel, ncols, nrows, cx, cy, n_chunks):
    """Each point's bin from a precomputed pixel table (``-1``: none), and the furthest move.

    ``table[r * ncols + c]`` is the bin of pixel (r, c), a ``pixel``-metre square; a point takes
    its pixel's bin, so it moves to that bin's centre ``(cx, cy)``. Each of ``n_chunks`` runs of
    points keeps its own furthest move (points with non-zero weight ``pw``); merged after.

    Parameters
    ----------
    px, py, pw : float64 (n,), points in metres and their weights.
    table : int (nrows * ncols,), the bin of each pixel, -1 for none.
    x0, y0, pixel, ncols, nrows : the pixel grid (metres, metres, metres, counts).
    cx, cy : float64 (bins,), the bins' centres, metres. n_chunks : runs of points.

    Returns
    -------
    label : int64 (n,).
    moved : metres.
    """
    n = px.size
    label = np.full(n, -1, np.int64)
    far = np.zeros(n_chunks)
    inv = 1.0 / pixel
    step = -(-n // n_chunks)
    for chunk in prange(n_chunks):
        chunk_far = 0.0
        for i in range(chunk * step, min((chunk + 1) * step, n)):
            col = _bucket_of(px[i], x0, inv, ncols)
            row = _bucket_of(py[i], y0, inv, nrows)
            if col < 0 or row < 0:
                continue
            b = table[row * ncols + col]
            if b < 0:
                continue
            label[i] = b
            if pw[i] != 0.0:
                dx = cx[b] - px[i]
                dy = cy[b] - py[i]
                chunk_far = max(chunk_far, dx * dx + dy * dy)
        far[chunk] = chunk_far
    return label, math.sqrt(far.max()) if n_chunks > 0 else 0.0
