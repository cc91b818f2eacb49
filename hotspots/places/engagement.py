"""Engagement kept: which hotspots lack an agreed community engagement plan, or are overdue a review.

Project Guardian asks for "a community engagement plan for every hotspot". A hotspot is flagged when
``grace_days`` (default 14) have passed since it was first designated and its plan has not reached
agreement, and when an agreed plan's next review date has passed. A closed plan is not flagged.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from hotspots.core.errors import ValidationError

DEFAULT_GRACE_DAYS = 14
#: Plan statuses that mean a plan was agreed (and is being carried out or reviewed).
AGREED = ("agreed", "in progress", "under review")
FLAG_COLUMNS = ["hotspot_id", "designated", "status", "next_review", "flag", "days_over"]


def engagement_flags(designated: pd.Series, plans: pd.DataFrame, *, today: dt.date,
                     grace_days: int = DEFAULT_GRACE_DAYS) -> pd.DataFrame:
    """One row per designated hotspot with its flag ("" when none).

    Parameters
    ----------
    designated : first designation day (date) by hotspot_id.
    plans : current plans (hotspot_id, status, next_review); hotspots without a row have none.
    today : the day to judge on (local).
    grace_days : days a new hotspot has to get an agreed plan.

    Returns
    -------
    pandas.DataFrame
        FLAG_COLUMNS; ``days_over`` counts the days past the deadline (0 when not flagged).
    """
    if grace_days < 0:
        raise ValidationError(f"grace_days={grace_days!r}: give 0 or more days", arguments="grace_days")
    current = plans.set_index("hotspot_id") if not plans.empty else pd.DataFrame(columns=["status", "next_review"])
    rows = []
    for hotspot_id, first in designated.sort_index().items():
        status = current["status"].get(hotspot_id, "no plan")
        review = current["next_review"].get(hotspot_id)
        review = None if review is None or pd.isna(review) else pd.Timestamp(review).date()
        flag, over = "", 0
        if status in AGREED:
            if review is None:
                flag = "agreed plan has no review date"
            elif review < today:
                flag, over = f"review overdue since {review.isoformat()}", (today - review).days
        elif status != "closed":
            due = first + dt.timedelta(days=grace_days)
            if due < today:
                flag = f"no agreed plan {(today - first).days} days after designation ({status})"
                over = (today - due).days
        rows.append({"hotspot_id": hotspot_id, "designated": first, "status": status, "next_review": review,
                     "flag": flag, "days_over": over})
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)
