"""Numba kernel of the grid self-exciting point process: the E-step of its EM fit.

Arrays and scalars only; validation is in :mod:`models.baselines`. Each cell is one ``prange``
iteration that writes its own output slots, so threads never share an accumulator.

The triggering kernel is exponential, so the sums over a cell's earlier events follow a
recursion in time order and each cell costs O(n) instead of O(n²):
``R_i = Σ_{t_j < t_i} exp(-ω (t_i - t_j))`` and ``Q_i = Σ_{t_j < t_i} exp(-ω (t_i - t_j)) (t_i - t_j)``.
Events at the same time do not trigger each other (a month of data.police.uk records all share
their month's middle), so the recursion moves in groups of tied times.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from hotspots.core.numba_config import PARALLEL_JIT


@njit(**PARALLEL_JIT)
def sepp_estep(times, starts, mu, theta, omega):  # pragma: no cover - compiled; NUMBA_DISABLE_JIT runs it
    """One E-step over every cell.

    Parameters
    ----------
    times : event times in days, sorted by cell and then time, shape (n,).
    starts : cell ``c``'s events are ``times[starts[c]:starts[c + 1]]``, shape (m + 1,).
    mu : background rate per cell per day, shape (m,). theta, omega : triggering size and rate (1/day).

    Returns
    -------
    background, triggered, triggered_lag, loglik : per cell (shape (m,)): Σ P(background),
    Σ P(triggered), Σ P(triggered)·lag in days, and Σ log λ(t_i).
    """
    m = starts.size - 1
    background = np.zeros(m)
    triggered = np.zeros(m)
    triggered_lag = np.zeros(m)
    loglik = np.zeros(m)
    for c in prange(m):
        r = 0.0  # R at the current group's time, from strictly earlier events
        q = 0.0
        group_time = -np.inf
        group_size = 0.0
        for i in range(starts[c], starts[c + 1]):
            t = times[i]
            if t > group_time:
                if group_size > 0:
                    decay = math.exp(-omega * (t - group_time))
                    q = decay * (q + (t - group_time) * (r + group_size))
                    r = decay * (r + group_size)
                group_time = t
                group_size = 0.0
            excite = theta * omega * r
            lam = mu[c] + excite
            if lam > 0:
                background[c] += mu[c] / lam
                triggered[c] += excite / lam
                triggered_lag[c] += theta * omega * q / lam
                loglik[c] += math.log(lam)
            else:
                loglik[c] += -np.inf
            group_size += 1.0
    return background, triggered, triggered_lag, loglik
