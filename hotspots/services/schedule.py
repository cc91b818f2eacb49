"""The weekly cycle, run by the service on its own when configured.

Each week, at the configured day and local time (``schedule_weekly``, e.g. ``MON 06:00``), the
service selects that week's hotspot set from the stored incidents. At each tactical period's start
it prepares a roster draft for the latest set (the configured resources and a recorded seed); the
draft waits for a tasking board to issue it. Both are audited and shown on the pages.

:func:`run_due` does whatever is due at a given moment and is safe to call from every worker at
once, as often as liked: each run is claimed by a unique (kind, period) row before any work, so a
period's run happens once. A service that was down when a run fell due runs it when it next starts,
for the latest due period only (a missed week's set is of no use once the next week has begun).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from hotspots.core.config import DEFAULT_NAMED_AREAS, get_settings
from hotspots.core.errors import HotspotsError, ValidationError
from hotspots.geo.areas import Area, NamedAreas
from hotspots.patrol import PatrolResources
from hotspots.services.rosters import issue_roster
from hotspots.services.weekly import select_hotspots, set_calendar
from hotspots.store.db import Store
from hotspots.store.hotspot_sets import list_sets
from hotspots.store.schedule import claim_run, finish_run, release_draft, take_draft

log = logging.getLogger(__name__)
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
WEEKLY_SET, ROSTER_DRAFT = "weekly-set", "roster-draft"


@dataclass(frozen=True)
class WeeklyTime:
    """A day of the week and a local time: when the week's set is computed."""

    weekday: int
    at: dt.time
    timezone: str

    @classmethod
    def parse(cls, text: str, timezone: str) -> WeeklyTime:
        match = re.fullmatch(r"\s*([A-Za-z]{3})[A-Za-z]*\s+(\d{1,2}):(\d{2})\s*", text)
        if not match or match.group(1).upper() not in DAYS or int(match.group(2)) > 23 or int(match.group(3)) > 59:
            raise ValidationError(f"schedule_weekly={text!r}: give a day and a 24-hour local time, e.g. 'MON 06:00'",
                                  arguments="schedule_weekly")
        return cls(DAYS.index(match.group(1).upper()), dt.time(int(match.group(2)), int(match.group(3))), timezone)

    def latest(self, now: dt.datetime) -> dt.datetime:
        """The latest scheduled moment at or before ``now`` (aware)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        day = local.date() - dt.timedelta(days=(local.weekday() - self.weekday) % 7)
        moment = dt.datetime.combine(day, self.at, ZoneInfo(self.timezone))
        return moment if moment <= local else moment - dt.timedelta(days=7)


def run_due(store: Store, now: dt.datetime, region: Area | None, *, worker: str) -> list[str]:
    """Run what is due at ``now``: the week's set and the period's roster draft; returns what was done."""
    s = get_settings()
    done = []
    if s.schedule_weekly and region is not None:
        done += _weekly_set(store, WeeklyTime.parse(s.schedule_weekly, s.timezone).latest(now), region, worker)
    if s.schedule_resources:
        done += _roster_draft(store, now, worker)
    return done


def _weekly_set(store: Store, due: dt.datetime, region: Area, worker: str) -> list[str]:
    calendar = set_calendar("week")
    period = calendar.period_of(due)
    start = calendar.bounds(period)[0].date()
    label = str(calendar.label(np.array([period]))[0])
    run_id = claim_run(store, WEEKLY_SET, start, label, due, worker)
    if run_id is None:
        return []
    try:
        names = NamedAreas.from_file(DEFAULT_NAMED_AREAS) if DEFAULT_NAMED_AREAS.exists() else None
        chosen = select_hotspots(store, region, calendar, day=start, resolution=get_settings().h3_resolution,
                                 names=names)
    except HotspotsError as exc:
        finish_run(store, run_id, "failed", str(exc))
        return [f"{WEEKLY_SET} {label}: failed: {exc}"]
    except Exception:  # a scheduled run must not take the service down; the run's row says it failed
        log.exception("scheduled weekly set %s failed", label)
        finish_run(store, run_id, "failed", "internal error; it has been logged")
        return [f"{WEEKLY_SET} {label}: failed"]
    finish_run(store, run_id, "done", f"set {chosen.set_id} stored", set_id=chosen.set_id)
    return [f"{WEEKLY_SET} {label}: set {chosen.set_id}"]


def _roster_draft(store: Store, now: dt.datetime, worker: str) -> list[str]:
    calendar = set_calendar("tactical")
    period = calendar.period_of(now)
    start = calendar.bounds(period)[0]
    label = str(calendar.label(np.array([period]))[0])
    sets = list_sets(store)
    if sets.empty:
        return []  # nothing to roster yet: the draft is made once a set exists
    run_id = claim_run(store, ROSTER_DRAFT, start.date(), label, start.to_pydatetime(), worker,
                       set_id=int(sets["set_id"].iloc[0]), seed=secrets.randbits(48))
    if run_id is None:
        return []
    finish_run(store, run_id, "waiting", "waiting for a tasking board to issue it")
    return [f"{ROSTER_DRAFT} {label}: waiting"]


def issue_draft(store: Store, run_id: int, *, actor: str):
    """Issue a waiting roster draft (its set, period and seed, the configured resources); once only.

    Returns
    -------
    (Roster, HotspotSet)
    """
    s = get_settings()
    if not s.schedule_resources:
        raise ValidationError("schedule_resources is not set: the service has no resources to roster drafts with",
                              arguments="schedule_resources")
    draft = take_draft(store, run_id)
    try:
        roster, hs = issue_roster(store, PatrolResources.from_file(s.schedule_resources), set_id=draft["set_id"],
                                  start=draft["period_start"], days=s.period_days, seed=draft["seed"],
                                  reason=f"scheduled draft for {draft['period_label']}", actor=actor,
                                  timezone=s.timezone)
    except Exception:
        release_draft(store, run_id)
        raise
    finish_run(store, run_id, "issued", f"issued as roster {roster.issue['roster_id']}",
               roster_id=roster.issue["roster_id"])
    return roster, hs
