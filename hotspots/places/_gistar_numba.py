"""The numba kernel behind :mod:`hotspots.places.gistar`: conditional-permutation p-values for Gi*.

Nothing here validates; :mod:`hotspots.places.gistar` converts and checks inputs first. The slow twin
is ``tests/naive.py::gistar_permutation_p``, which draws the same random numbers.

Random numbers come from a counter-based SplitMix64 stream per cell, seeded from the user's seed
and the cell's index. A cell's draws therefore do not depend on which thread runs it or in what
order, so the p-values are the same for any number of threads and equal to the twin's.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from hotspots.core.numba_config import JIT, PARALLEL_JIT

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_CELL = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
#: Sums within this relative distance of the observed one are ties, counted as extreme: harm
#: weights are not whole numbers, and the same neighbours added in another order can differ in
#: the last bit, which would decide a tie by rounding.
_TIE = 1e-9


@njit(**JIT)
def _splitmix(state):
    """Advance a SplitMix64 state; returns (new state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return state, z ^ (z >> _S31)


@njit(**JIT)
def _cell_state(seed, cell):
    return np.uint64(seed) * _GOLDEN + np.uint64(cell) * _CELL


#: Runs of cells the parallel kernels hand out, each with its own scratch. Many more runs than
#: threads, since hot cells (which draw every permutation) sit together in H3 order: on the weekly
#: benchmark's year, the week's Gi* took 1.22 s with 256 runs against 1.32 s with one per thread
#: (the twelve weeks' run about the same either way).
_RUNS = 256


@njit(inline="always", **JIT)
def _draw_neighbour(state, cell, others, drawn, mark):
    """One cell other than ``cell`` and those already drawn in this permutation (``drawn[j] == mark``),
    uniform over the rest of the ``others + 1`` cells (rejection on a repeat); marks it drawn and
    returns (advanced random state, the cell). Looking a repeat up in ``drawn`` rather than among
    the cells drawn so far halved the kernel's time at 18 neighbours, with the same draws."""
    while True:
        state, bits = _splitmix(state)
        j = np.int64(((bits >> _S32) * others) >> _S32)
        if j >= cell:
            j += 1
        if drawn[j] != mark:
            drawn[j] = mark
            return state, j


@njit(**JIT)
def _run_bounds(n):
    """How many runs of cells the kernels hand out, and the cells in each."""
    runs = min(_RUNS, n)
    return runs, -(-n // runs) if runs else 0


@njit(**PARALLEL_JIT)
def gistar_permutation_p(values, indptr, indices, permutations, seed, stop_after):
    """Folded pseudo p-value of each cell's Gi* under conditional permutation.

    The cell's own value stays put (conditional randomisation); its neighbours' values are drawn
    without replacement from the other n - 1 cells. "As extreme" is in the observed direction:
    a sum at or above the observed one for a cell above the expected sum, at or below otherwise.

    Parameters
    ----------
    values : float64 (n,), the variable (zeros included) at every cell of the region.
    indptr, indices : int64 CSR of each cell's neighbours, the cell itself left out.
    permutations : most random draws per cell.
    seed : non-negative int.
    stop_after : Besag and Clifford's sequential rule: stop a cell's draws once this many were
        at least as extreme as the observed sum, and report stop_after / draws; 0 never stops.

    Returns
    -------
    p : float64 (n,), the pseudo p-values.
    draws : int64 (n,), draws used per cell.
    """
    n = values.size
    p = np.ones(n)
    used = np.zeros(n, np.int64)
    total = 0.0
    for i in range(n):
        total += values[i]
    others = np.uint64(max(n - 1, 0))  # n = 0 draws nothing; plain Python (NUMBA_DISABLE_JIT) refuses -1
    runs, step = _run_bounds(n)
    for r in prange(runs):
        drawn = np.zeros(n, np.int64)  # the run's own: drawn[j] == mark while j is drawn this permutation
        mark = 0
        for i in range(r * step, min(n, (r + 1) * step)):
            lo = indptr[i]
            deg = indptr[i + 1] - lo
            if deg == 0 or n < 2:
                continue
            observed = values[i]
            for t in range(deg):
                observed += values[indices[lo + t]]
            # Expected star sum under randomisation: own value plus deg draws of the others' mean.
            expected = values[i] + deg * (total - values[i]) / (n - 1)
            tol = _TIE * (abs(observed) + 1.0)
            upper = observed >= expected - tol
            state = _cell_state(seed, i)
            extreme = 0
            done = 0
            for _ in range(permutations):
                mark += 1
                s = values[i]
                for _t in range(deg):
                    state, j = _draw_neighbour(state, i, others, drawn, mark)
                    s += values[j]
                done += 1
                if (upper and s >= observed - tol) or (not upper and s <= observed + tol):
                    extreme += 1
                    if stop_after > 0 and extreme >= stop_after:
                        break
            used[i] = done
            if stop_after > 0 and extreme >= stop_after:
                p[i] = extreme / done
            else:
                p[i] = (extreme + 1.0) / (done + 1.0)
    return p, used


@njit(**PARALLEL_JIT)
def gistar_permutation_p_periods(values, indptr, indices, permutations, seed, stop_after):
    """:func:`gistar_permutation_p` for several periods of one region at once, sharing the draws.

    Each cell draws one stream of neighbour sets and scores every period on it, so the random
    numbers and the draws without replacement (most of the cost) are made once rather than once a
    period. A period stops on its own rule; the cell stops drawing when every period has stopped.
    Column t of the result is exactly ``gistar_permutation_p(values[:, t], ..., seed, ...)``: each
    period's p-value has the distribution it had alone, and periods share Monte Carlo error.

    Parameters
    ----------
    values : float64 (n, periods), C-contiguous; column t is the variable in period t.
    indptr, indices, permutations, seed, stop_after : as for :func:`gistar_permutation_p`.

    Returns
    -------
    p : float64 (n, periods), the pseudo p-values.
    draws : int64 (n, periods), draws used per cell and period.
    """
    n, periods = values.shape
    p = np.ones((n, periods))
    used = np.zeros((n, periods), np.int64)
    total = np.zeros(periods)
    for i in range(n):
        for t in range(periods):
            total[t] += values[i, t]
    others = np.uint64(max(n - 1, 0))  # n = 0 draws nothing; plain Python (NUMBA_DISABLE_JIT) refuses -1
    runs, step = _run_bounds(n)
    for r in prange(runs):
        drawn = np.zeros(n, np.int64)  # the run's own: drawn[j] == mark while j is drawn this permutation
        mark = 0
        for i in range(r * step, min(n, (r + 1) * step)):
            lo = indptr[i]
            deg = indptr[i + 1] - lo
            if deg == 0 or n < 2 or periods == 0:
                continue
            observed = values[i].copy()
            upper = np.empty(periods, np.bool_)
            tol = np.empty(periods)
            for t in range(periods):
                for u in range(deg):
                    observed[t] += values[indices[lo + u], t]
                tol[t] = _TIE * (abs(observed[t]) + 1.0)
                upper[t] = observed[t] >= values[i, t] + deg * (total[t] - values[i, t]) / (n - 1) - tol[t]
            extreme = np.zeros(periods, np.int64)
            done = np.zeros(periods, np.int64)
            running = np.ones(periods, np.bool_)
            left = periods
            chosen = np.empty(deg, np.int64)
            state = _cell_state(seed, i)
            for _ in range(permutations):
                mark += 1
                for u in range(deg):
                    state, chosen[u] = _draw_neighbour(state, i, others, drawn, mark)
                # Only periods still running are summed: most stop within a few dozen draws, while
                # a cell hot in one week draws for it alone.
                for t in range(periods):
                    if not running[t]:
                        continue
                    s = values[i, t]
                    for u in range(deg):
                        s += values[chosen[u], t]
                    done[t] += 1
                    if (upper[t] and s >= observed[t] - tol[t]) or (not upper[t] and s <= observed[t] + tol[t]):
                        extreme[t] += 1
                        if stop_after > 0 and extreme[t] >= stop_after:
                            running[t] = False
                            left -= 1
                if left == 0:
                    break
            for t in range(periods):
                used[i, t] = done[t]
                if stop_after > 0 and extreme[t] >= stop_after:
                    p[i, t] = extreme[t] / done[t]
                else:
                    p[i, t] = (extreme[t] + 1.0) / (done[t] + 1.0)
    return p, used
