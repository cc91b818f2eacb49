"""The feedback loop, measured: offences found by police activity in the stored hotspots, against
their own past and the rest of the force, per period (and in trials, against randomised controls:
:func:`hotspots.services.trials.evaluate_stored_trial`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from hotspots.crime.offences import vocabulary
from hotspots.services.ingest import stored_incidents
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import newest_per_period, set_members
from hotspots.trials.detection import detection_by_period, detection_sentence


def detected_groups() -> list[str]:
    """Offence groups that police activity detects and that are crimes (stop and search is not one)."""
    vocab = vocabulary()
    groups = vocab.group_of(np.asarray(vocab.police_detected(), dtype=object))
    return sorted(set(groups) - {"stop_and_search"})


def detection_in_hotspots(store: Store, *, timezone: str = "Europe/London") -> tuple[pd.DataFrame, dict, str]:
    """Per stored period (the newest set of each): police-detected offences in its hotspots during the
    period against the window of the same length before, relative to the rest of the force.

    Returns
    -------
    (pandas.DataFrame, dict, str)
        The table (:data:`hotspots.trials.detection.DETECTION_COLUMNS`), the pooled ratio, and a sentence.
    """
    groups = detected_groups()
    sets = newest_per_period(store)
    members = dict(iter(set_members(store, sets["set_id"].tolist()).groupby("set_id")))
    periods = []
    for s in sets.itertuples():
        if s.set_id not in members:  # a set with no hotspot has nothing to compare
            continue
        start = pd.Timestamp(s.period_start).tz_localize(timezone).tz_convert("UTC")
        end = pd.Timestamp(s.period_end + dt.timedelta(days=1)).tz_localize(timezone).tz_convert("UTC")
        periods.append((s.period_label, start, end, members[s.set_id][["hotspot_id", "h3_cell"]]))
    detected = stored_incidents(store, groups, allow_empty=True) if periods else pd.DataFrame()
    table, pooled = detection_by_period(detected, periods)
    return table, pooled, detection_sentence(pooled, groups)
