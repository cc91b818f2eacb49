"""The quarterly return and the public transparency summary as printable, self-contained HTML pages
(no scripts, no network), from the plain tables the services hand over."""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd

from hotspots.core.tables import csv_text

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #111; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; } td.n { text-align: right; }
tr.total td { font-weight: 600; border-top: 2px solid #555; } .notes li { margin: .3em 0; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } a { color: inherit; } }
"""

#: Column headings of the return, in the words of a grant return.
RETURN_HEADINGS = {
    "period_label": "Period", "period_start": "From", "period_end": "To", "set_id": "Set", "hotspots": "Hotspots",
    "hotspot_km2": "Hotspot area (km²)", "area_share": "Share of force area", "planned_hours": "Patrol hours planned",
    "delivered_hours": "Patrol hours delivered (GPS)", "planned_visits": "Visits planned", "gps_visits": "Visits (GPS)",
    "koper_share": "Visits of Koper length", "crimes_in_hotspots": "Crimes in hotspots", "crimes_rest": "Crimes elsewhere",
    "harm_in_hotspots": "Harm in hotspots (CCHI days)", "harm_rest": "Harm elsewhere (CCHI days)",
    "crimes_not_placed_in_time": "Crimes known only to the month", "searches_in_hotspots": "Stop and search in hotspots",
    "searches_rest": "Stop and search elsewhere",
}
_SHARES = ("area_share", "koper_share")


def _cell(name: str, value) -> str:
    if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return "<td class='n'>–</td>"
    if name in _SHARES:
        return f"<td class='n'>{value:.1%}</td>"
    if isinstance(value, float | np.floating):
        return f"<td class='n'>{value:,.1f}</td>"
    if isinstance(value, int | np.integer):
        return f"<td class='n'>{value:,}</td>"
    if isinstance(value, dt.date):
        return f"<td>{value.isoformat()}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def _notes(notes: list[str]) -> str:
    return "<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"


def render_return(quarter: str, first: dt.date, last: dt.date, table: pd.DataFrame, notes: list[str],
                  made_at: dt.datetime) -> str:
    """The quarterly return page: one row per period of the quarter and a total row.

    Parameters
    ----------
    quarter : its label ('2024Q1').
    first, last : its first and last days.
    table : the return's rows and total row (RETURN_HEADINGS columns).
    notes : what the figures rest on.
    made_at : when the return was made (UTC).

    Returns
    -------
    str
        The HTML page.
    """
    head = "".join(f"<th scope='col'>{html.escape(RETURN_HEADINGS.get(c, c))}</th>" for c in table.columns)
    rows = []
    for k, r in enumerate(table.to_dict("records")):
        cls = " class='total'" if k == len(table) - 1 else ""
        rows.append(f"<tr{cls}>" + "".join(_cell(c, r[c]) for c in table.columns) + "</tr>")
    body = (f"<h1>Serious violence hotspot return, {html.escape(quarter)}</h1>"
            f"<p>{first.isoformat()} to {last.isoformat()}. Made {made_at:%Y-%m-%d %H:%M} UTC. "
            "OFFICIAL-SENSITIVE: operational; not for publication.</p>"
            f"<table><caption>Patrol, crime and stop and search in hotspots by period</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{_notes(notes)}")
    return _page(f"Hotspot return {quarter}", body)


def render_summary(quarter: str, first: dt.date, last: dt.date, headline: pd.DataFrame,
                   tables: dict[str, pd.DataFrame], notes: list[str]) -> str:
    """The public transparency summary page: headline figures and the suppressed tables.

    Parameters
    ----------
    quarter : its label ('2024Q1').
    first, last : its first and last days.
    headline : measure, value rows.
    tables : name -> a suppressed table with its totals.
    notes : what the figures rest on.

    Returns
    -------
    str
        The HTML page.
    """
    parts = [f"<h1>Hotspot policing: transparency summary, {html.escape(quarter)}</h1>",
             f"<p>{first.isoformat()} to {last.isoformat()}. Aggregate figures only; no hotspot is named or "
             "located.</p><h2>Headline</h2><table><tbody>"]
    parts += [f"<tr><th scope='row'>{html.escape(str(r.measure))}</th>{_cell('value', r.value)}</tr>"
              for r in headline.itertuples()]
    parts.append("</tbody></table>")
    for name, table in tables.items():
        head = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in table.columns)
        rows = [f"<tr{' class=total' if idx == 'Total' else ''}><th scope='row'>{html.escape(str(idx))}</th>"
                + "".join(_cell(str(c), v) for c, v in r.items()) + "</tr>" for idx, r in table.iterrows()]
        parts.append(f"<h2>{html.escape(name.capitalize())}</h2><table><thead><tr><td></td>{head}</tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table>")
    parts.append(_notes(notes))
    return _page(f"Hotspot transparency summary {quarter}", "".join(parts))


def summary_csv(headline: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> str:
    """The public summary as one CSV: table, row, column, value (suppressed cells as <5)."""
    rows = [("headline", r.measure, "value", r.value) for r in headline.itertuples()]
    for name, table in tables.items():
        rows += [(name, idx, col, v) for idx, r in table.iterrows() for col, v in r.items()]
    return csv_text(pd.DataFrame(rows, columns=["table", "row", "column", "value"]))
