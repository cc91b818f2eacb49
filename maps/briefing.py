"""Printable patrol briefings: one HTML file per unit, one printed page per patrol day.

Each page has the day's visits in order and a small map of the hotspots it visits (their
geofences, numbered in visit order, and the order of travel) drawn as inline SVG in the
roster's projected metres, so it prints anywhere and needs no tiles, scripts or network.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from hotspots.geo.projection import project
from hotspots.patrol.exports import MARKING, roster_stem, safe_name
from hotspots.patrol.roster import Roster

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #111; }
.page { padding: 14mm; page-break-after: always; break-after: page; }
.marking { text-align: center; font-weight: 700; letter-spacing: .08em; color: #a00; }
h1 { font-size: 18pt; margin: 4mm 0 1mm; } h2 { font-size: 12pt; margin: 0 0 4mm; color: #444; font-weight: 500; }
table { border-collapse: collapse; width: 100%; margin: 3mm 0; font-size: 10.5pt; }
th, td { border: 1px solid #999; padding: 1.5mm 2mm; text-align: left; } th { background: #eee; }
td.n { text-align: right; } .done { width: 12mm; }
.map { border: 1px solid #999; } .notes { font-size: 9.5pt; color: #333; }
@media print { .page { padding: 10mm; } a { color: inherit; text-decoration: none; } }
"""
_NOTES = ("Stay visible inside the geofence for the whole visit: about 15 minutes deters longest.",
          "Keep to the listed times; they are drawn at random so that nobody can learn them. Do not share them.",
          "Record anything of note on return. Geofence data confirms the visit; no manual log is needed.")


def write_briefings(roster: Roster, geofences: dict, folder: Path) -> list[Path]:
    """Write ``<roster>-<unit>-briefing.html`` for every unit and an index page; returns the paths.

    ``geofences`` maps hotspot_id to its WGS84 geofence (a shapely geometry) from the hotspot set.
    """
    folder.mkdir(parents=True, exist_ok=True)
    projected = _projected(roster, geofences)
    paths, links = [], []
    for unit, visits in roster.visits.groupby("unit", sort=True):
        path = folder / f"{roster_stem(roster)}-{safe_name(unit)}-briefing.html"
        path.write_text(_unit_document(roster, unit, visits, projected), encoding="utf-8")
        paths.append(path)
        links.append(f'<li><a href="{html.escape(path.name)}">{html.escape(unit)}</a> '
                     f"({html.escape(str(visits['npu'].iloc[0]))}): {len(visits)} visits on "
                     f"{visits['date'].nunique()} days</li>")
    p, issue = roster.parameters, roster.issue
    index = folder / f"{roster_stem(roster)}-briefings.html"
    body = (f'<div class="page"><div class="marking">{MARKING}</div><h1>Patrol briefings</h1>'
            f"<h2>Roster {html.escape(str(issue.get('roster_id', '(not issued)')))}, version {issue.get('version', '-')}: "
            f"{p['start']} to {p['end']}</h2><ul>{''.join(links)}</ul></div>")
    index.write_text(_document("Patrol briefings", body), encoding="utf-8")
    return [index, *paths]


def briefing(roster: Roster, unit: str, geofences: dict) -> str:
    """One unit's briefing as an HTML document (a page per patrol day), as ``write_briefings`` writes it."""
    visits = roster.visits[roster.visits["unit"] == unit]
    return _unit_document(roster, unit, visits, _projected(roster, {h: geofences[h] for h in visits["hotspot_id"]}))


def _projected(roster: Roster, geofences: dict) -> dict:
    crs = roster.parameters.get("crs", "EPSG:27700")
    return {h: _project(g, crs) for h, g in geofences.items()}


def _unit_document(roster: Roster, unit: str, visits: pd.DataFrame, projected: dict) -> str:
    pages = [_day_page(roster, unit, day, rows, projected) for day, rows in visits.groupby("date", sort=True)]
    return _document(f"Patrol briefing {unit}", "".join(pages))


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="robots" content="noindex"><style>{_STYLE}</style></head><body>{body}</body></html>')


def _day_page(roster: Roster, unit: str, day: str, rows: pd.DataFrame, projected: dict) -> str:
    rows = rows.sort_values("starts_at")
    first = rows.iloc[0]
    table_rows = "".join(
        f"<tr><td class='n'>{i}</td><td>{html.escape(r.start)}–{html.escape(r.end)}</td>"
        f"<td>{html.escape(r.hotspot_id)}</td><td>{html.escape(str(r.hotspot_name))}</td>"
        f"<td class='n'>{r.visit_minutes}</td><td class='n'>{r.travel_minutes}</td><td class='done'></td></tr>"
        for i, r in enumerate(rows.itertuples(), start=1))
    weekday = pd.Timestamp(day).day_name()
    return (
        f'<section class="page"><div class="marking">{MARKING}</div>'
        f"<h1>{html.escape(unit)}: {weekday} {html.escape(day)}</h1>"
        f"<h2>{html.escape(str(first.npu))}, {html.escape(str(first['mode']))} patrol, {len(rows)} visits, "
        f"roster {html.escape(str(roster.issue.get('roster_id', '-')))}</h2>"
        f"{_svg_map(rows, projected)}"
        "<table><tr><th>#</th><th>time</th><th>hotspot</th><th>name</th><th>min</th><th>travel min</th>"
        f"<th>done</th></tr>{table_rows}</table>"
        f"<ul class='notes'>{''.join(f'<li>{html.escape(n)}</li>' for n in _NOTES)}</ul></section>"
    )


def _project(geometry, crs: str):
    """The geofence in metres, simplified to 3 m: finer than print shows, and pages stay small."""
    metres = shapely.transform(geometry, lambda xy: np.column_stack(project(xy[:, 0], xy[:, 1], crs)))
    return shapely.simplify(metres, 3.0)


def _svg_map(rows: pd.DataFrame, projected: dict, width: int = 480, height: int = 300) -> str:
    """The day's hotspots as SVG: geofences, numbered stops in visit order, dashed order of travel."""
    ids = list(dict.fromkeys(rows["hotspot_id"]))
    shapes = [projected[h] for h in ids if h in projected]
    if not shapes:
        return ""
    x0, y0, x1, y1 = shapely.total_bounds(shapes)
    span = max(x1 - x0, y1 - y0, 400.0) * 1.15  # at least 400 m across, with a margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = min(width, height) / span

    def pt(x, y):
        return (width / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale)

    paths = []
    for h in ids:
        g = projected.get(h)
        if g is None:
            continue
        d = ""
        for poly in shapely.get_parts(g):
            for ring in [poly.exterior, *poly.interiors]:
                coords = [pt(x, y) for x, y in np.asarray(ring.coords)]
                d += "M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in coords) + "Z"
        paths.append(f'<path d="{d}" fill="#e4572e" fill-opacity=".35" stroke="#a11" stroke-width="1.5"/>')
    stops = []
    for r in rows.itertuples():
        g = projected.get(r.hotspot_id)
        stops.append(pt(*shapely.get_coordinates(shapely.centroid(g))[0]) if g is not None else None)
    route = " ".join(f"{a:.1f},{b:.1f}" for a, b in (s for s in stops if s))
    labels = []
    for i, s in enumerate(stops, start=1):
        if s is None:
            continue
        dx = 9 * ((i - 1) % 3)  # repeated stops at one hotspot fan out instead of overprinting
        labels.append(f'<circle cx="{s[0] + dx:.1f}" cy="{s[1]:.1f}" r="8" fill="#fff" stroke="#111"/>'
                      f'<text x="{s[0] + dx:.1f}" y="{s[1] + 3.5:.1f}" font-size="9" text-anchor="middle">{i}</text>')
    bar_m = _nice_length(span / 4)
    bar = bar_m * scale
    scale_bar = (f'<line x1="10" y1="{height - 12}" x2="{10 + bar:.1f}" y2="{height - 12}" stroke="#111" stroke-width="3"/>'
                 f'<text x="10" y="{height - 18}" font-size="10">{bar_m:,.0f} m</text>')
    north = f'<text x="{width - 18}" y="20" font-size="14" font-weight="700">N</text>'
    return (f'<svg class="map" role="img" aria-label="Map of the day\'s hotspots" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="{width}" height="{height}" fill="#f8f8f4"/>{"".join(paths)}'
            f'<polyline points="{route}" fill="none" stroke="#333" stroke-dasharray="4 3"/>'
            f'{"".join(labels)}{scale_bar}{north}</svg>')


def _nice_length(metres: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten not above ``metres``."""
    power = 10 ** np.floor(np.log10(max(metres, 1.0)))
    return float(max(m * power for m in (1, 2, 5) if m * power <= max(metres, 1.0)))
