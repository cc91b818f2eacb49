"""Small-number suppression for published tables, safe against differencing through the totals.

Primary suppression hides every count from 1 to ``threshold - 1``. A table published with its row
and column totals is a set of linear equations (each row sums to its total, each column too), so one
hidden cell in an equation is recovered by subtraction, and more subtle patterns are recovered by
combining equations. Secondary suppression therefore hides further cells, the smallest first, until
no hidden value is determined by the published ones: a hidden cell is determined exactly when its
unit vector lies in the row space of the equations restricted to the hidden cells (checked by rank).
Zeros are published: a table of counts of searches says nothing about a person by a zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUPPRESSED = "<5"
DEFAULT_THRESHOLD = 5


def with_totals(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (non-negative integer counts) with a ``Total`` column and a ``Total`` row."""
    full = table.astype(np.int64).copy()
    full["Total"] = full.sum(axis=1)
    full.loc["Total"] = full.sum(axis=0)
    return full


def _equations(shape: tuple[int, int]) -> list[list[tuple[int, int, int]]]:
    """The additive relations of a table with totals: (row, col, sign) terms summing to 0."""
    n_rows, n_cols = shape  # including the totals row and column
    rows = [[(i, j, 1) for j in range(n_cols - 1)] + [(i, n_cols - 1, -1)] for i in range(n_rows)]
    cols = [[(i, j, 1) for i in range(n_rows - 1)] + [(n_rows - 1, j, -1)] for j in range(n_cols)]
    return rows + cols


def determined(hidden: np.ndarray) -> np.ndarray:
    """Which hidden cells (bool mask over the table with totals) the published cells determine."""
    cells = list(zip(*np.nonzero(hidden), strict=True))
    if not cells:
        return np.zeros_like(hidden)
    index = {c: k for k, c in enumerate(cells)}
    a = np.array([[0.0] * len(cells)] + [[sum(s for i, j, s in eq if (i, j) == c) for c in cells]
                                          for eq in _equations(hidden.shape)])
    rank = np.linalg.matrix_rank(a)
    out = np.zeros_like(hidden)
    for c, k in index.items():
        unit = np.zeros(len(cells))
        unit[k] = 1.0
        out[c] = np.linalg.matrix_rank(np.vstack([a, unit])) == rank
    return out


def suppress(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD,
             hide_column_totals: tuple[str, ...] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    """The table with totals, counts under ``threshold`` (and what would reveal them) hidden.

    Parameters
    ----------
    table : non-negative integer counts, without totals.
    threshold : the smallest count published (5 by default).
    hide_column_totals : columns whose total is hidden from the start: another table published
        beside this one, of the same searches broken down otherwise, had to hide it.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        The published table (object dtype: ints, or SUPPRESSED) with its totals, and the hidden mask.
    """
    full = with_totals(table)
    values = full.to_numpy()
    hidden = (values > 0) & (values < threshold)
    for name in hide_column_totals:
        hidden[-1, full.columns.get_loc(name)] = True
    while hidden.any():
        exposed = determined(hidden)
        if not exposed.any():
            break
        target = tuple(np.argwhere(exposed)[0])
        hidden[_partner(values, hidden, target)] = True
    published = full.astype(object)
    published[hidden] = SUPPRESSED
    return published, hidden


def _partner(values: np.ndarray, hidden: np.ndarray, target: tuple[int, int]) -> tuple[int, int]:
    """The cell to hide next to protect ``target``: the smallest published cell sharing an equation
    with it, inner cells (positive first) before totals."""
    n_rows, n_cols = values.shape
    candidates = []
    for eq in _equations(values.shape):
        if any((i, j) == target for i, j, _ in eq):
            candidates += [(i, j) for i, j, _ in eq if not hidden[i, j]]
    if not candidates:  # every cell of its equations is hidden; reach one equation further
        candidates = [tuple(c) for c in np.argwhere(~hidden)]

    def cost(cell):
        i, j = cell
        is_total = i == n_rows - 1 or j == n_cols - 1
        return (is_total, values[i, j] == 0, values[i, j])

    return min(candidates, key=cost)


def suppress_together(tables: dict[str, pd.DataFrame], threshold: int = DEFAULT_THRESHOLD) -> dict[str, pd.DataFrame]:
    """Suppress tables of the same counts broken down different ways (same columns): a column total
    hidden in one is hidden in all, so the others cannot give it away."""
    hide: set[str] = set()
    while True:
        done = {name: suppress(t, threshold, tuple(sorted(hide))) for name, t in tables.items()}
        hidden_totals = {col for published, mask in done.values()
                         for k, col in enumerate(published.columns) if mask[-1, k]}
        if hidden_totals <= hide:
            return {name: published for name, (published, _) in done.items()}
        hide |= hidden_totals
