"""Incident weights shared by every density engine: counts or harm, and prospective time decay.

A surface computed on one machine (:mod:`hotspots.density.surface`) and one computed part by part
on a cluster (:mod:`hotspots.national.kde`) weigh incidents with these same functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_positive

WEIGHTS = ("count", "harm")


def incident_midpoints(frame: pd.DataFrame) -> pd.Series:
    """The middle of each incident's recorded interval (UTC); an exact time is its own middle."""
    start = pd.to_datetime(frame["occurred_from"], utc=True)
    end = pd.to_datetime(frame["occurred_to"], utc=True)
    return start + (end - start) / 2


def base_weights(frame: pd.DataFrame, weight: str) -> np.ndarray:
    """One per incident (``weight="count"``) or its Crime Harm Index days (``"harm"``), shape (n,)."""
    check_choice(weight, WEIGHTS, "weight")
    return frame["harm_weight"].fillna(0.0).to_numpy(float) if weight == "harm" else np.ones(len(frame))


def time_weights(midpoints: pd.Series, reference_time: pd.Timestamp, half_life_days: float) -> np.ndarray:
    """``0.5 ** (age_days / half_life_days)`` for each incident; 0 for incidents after the reference time.

    Parameters
    ----------
    midpoints : incident times (UTC), shape (n,).
    reference_time : the moment the surface stands for.
    half_life_days : days after which an incident counts half.
    """
    check_positive(half_life_days, "half_life_days", "days (e.g. 28)")
    age_days = ((reference_time - midpoints).dt.total_seconds() / 86400.0).to_numpy()
    return np.where(age_days >= 0, np.exp2(-np.maximum(age_days, 0) / half_life_days), 0.0)


def utc_timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValidationError(f"{name}={value!r} is not a date or time; use e.g. 2024-06-30 or 2024-06-30T18:00") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
