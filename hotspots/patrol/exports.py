"""Writing a roster for tasking boards: CSV, iCalendar per unit and JSON (HTML briefings: ``maps.briefing``).

Every file is marked OFFICIAL-SENSITIVE: a roster says where officers will be and when. Text that a
spreadsheet would run as a formula is neutralised in the CSV.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import icalendar
import numpy as np
import pandas as pd

from hotspots.core.tables import neutralise
from hotspots.patrol.roster import Roster

MARKING = "OFFICIAL-SENSITIVE"
CSV_COLUMNS = ["date", "start", "end", "unit", "npu", "mode", "hotspot_id", "hotspot_name", "centroid_lon",
               "centroid_lat", "visit_minutes", "travel_minutes", "starts_at_utc", "ends_at_utc"]
def safe_name(text: str) -> str:
    """A file-name-safe form of a unit call sign."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "unit"


def roster_stem(roster: Roster) -> str:
    rid = roster.issue.get("roster_id")
    return f"roster-{rid}" if rid is not None else f"roster-{roster.parameters['start']}"


def visits_table(roster: Roster) -> pd.DataFrame:
    """The CSV's rows: one per visit, local date and times, UTC instants in ISO 8601."""
    v = roster.visits
    frame = v.assign(starts_at_utc=pd.DatetimeIndex(v["starts_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     ends_at_utc=pd.DatetimeIndex(v["ends_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"))[CSV_COLUMNS]
    for col in ("unit", "npu", "mode", "hotspot_id", "hotspot_name"):  # the free-text columns
        frame[col] = frame[col].map(neutralise)
    return frame


def csv_text(roster: Roster) -> str:
    """The CSV download: a marking line, then one row per visit."""
    return (f"# {MARKING}: patrol roster {roster.issue.get('roster_id', '(not issued)')}, "
            f"{roster.parameters['start']} to {roster.parameters['end']}\n" + visits_table(roster).to_csv(index=False))


def write_csv(roster: Roster, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(csv_text(roster))
    return path


def unit_calendar(roster: Roster, unit: str) -> bytes:
    """One unit's visits as an RFC 5545 calendar (UTC times; UIDs stable within a roster version)."""
    p, issue = roster.parameters, roster.issue
    cal = icalendar.Calendar()
    cal.add("prodid", "-//hotspots//patrol roster//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Patrols {unit} {p['start']} to {p['end']}")
    cal.add("x-wr-timezone", p["timezone"])
    stamp = dt.datetime.fromisoformat(issue["created_at"]) if "created_at" in issue else dt.datetime.now(dt.UTC)
    for r in roster.visits[roster.visits["unit"] == unit].itertuples():
        event = icalendar.Event()
        event.add("uid", f"roster{issue.get('roster_id', 0)}-v{issue.get('version', 0)}-visit{r.visit_no}@hotspots")
        event.add("dtstamp", stamp)
        event.add("dtstart", r.starts_at.to_pydatetime())
        event.add("dtend", r.ends_at.to_pydatetime())
        event.add("summary", f"Patrol {r.hotspot_id} {r.hotspot_name} ({r.visit_minutes} min)")
        event.add("location", f"{r.hotspot_name} ({r.centroid_lat:.5f}, {r.centroid_lon:.5f})")
        event.add("geo", (float(r.centroid_lat), float(r.centroid_lon)))
        event.add("description", f"{MARKING}. Visible patrol inside the geofence of {r.hotspot_id} for "
                                 f"{r.visit_minutes} minutes. Travel from the last visit: about {r.travel_minutes} min.")
        event.add("class", "CONFIDENTIAL")
        event.add("categories", ["Targeted patrol", r.npu])
        cal.add_component(event)
    return cal.to_ical()


def write_ics(roster: Roster, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit in sorted(roster.visits["unit"].unique()):
        path = folder / f"{roster_stem(roster)}-{safe_name(unit)}.ics"
        path.write_bytes(unit_calendar(roster, unit))
        paths.append(path)
    return paths


def roster_document(roster: Roster) -> dict:
    """The whole roster as one JSON-ready document."""
    v = roster.visits
    visits = _records(v.assign(starts_at=pd.DatetimeIndex(v["starts_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               ends_at=pd.DatetimeIndex(v["ends_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")))
    issue = {k: v for k, v in roster.issue.items() if k != "resources"}
    return {"marking": MARKING, "roster": _plain(issue | roster.parameters), "warnings": roster.warnings,
            "npus": _records(roster.npus), "units": _records(roster.units), "dosage": _records(roster.dosage),
            "visits": visits}


def write_json(roster: Roster, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(roster_document(roster), indent=1, default=_plain_value), encoding="utf-8")
    return path


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain_value(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _plain(d: dict) -> dict:
    return {k: _plain_value(v) for k, v in d.items()}


def _plain_value(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dt.date | dt.datetime | pd.Timestamp):
        return v.isoformat()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v
