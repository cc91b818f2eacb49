"""The evaluator's report: one self-contained HTML page (inline SVG plots, no scripts or network).

It states the design and the allocation's fingerprint first, then compliance, then the
estimates with their intervals, then what they do and do not show, in the order an evaluation
is read; the same content is in the JSON report beside it.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #111; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; } td.n { text-align: right; }
.fp { font-family: monospace; font-size: .85em; } .reading li { margin: .3em 0; } figure { margin: 1em 0; }
"""


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _plots(report: dict) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    s = report["series"]
    fig, ax = plt.subplots(figsize=(8, 3))
    x = np.arange(len(s["period_start"]))
    ax.plot(x, s["treatment"], marker="o", ms=3, label="patrolled")
    ax.plot(x, s["control"], marker="s", ms=3, label="control")
    first_during = int(np.argmax(s["during"])) if any(s["during"]) else 0
    if first_during > 0:
        ax.axvline(first_during - 0.5, color="#888", ls="--", lw=1)
    ax.set_xlabel(f"period ({report['window']['period_days']} days) from {s['period_start'][0]}")
    ax.set_ylabel("mean per place")
    ax.legend(frameon=False)
    figures.append(("Outcome per place and period", _svg(fig)))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.hist(report["randomisation_null"], bins=40, color="#9ab")
    ax.axvline(report["randomisation"]["statistic"], color="#a00", lw=2)
    ax.set_xlabel("score statistic under re-drawn allocations (red: the trial's)")
    figures.append(("Randomisation inference", _svg(fig)))
    plt.close(fig)
    if "dose" in report and "dose_response" in report:
        minutes = np.asarray(report["dose"]["minutes"])
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.scatter(minutes.ravel(), np.asarray(report["dose"]["outcome"]).ravel(), s=6, alpha=.5)
        ax.set_xlabel("delivered minutes in a place-period")
        ax.set_ylabel(report["outcome"])
        figures.append(("Delivered dose", _svg(fig)))
        plt.close(fig)
    return figures


def _null_rate(report: dict, key: str) -> str:
    """The interval's type I error in the project's null simulations, and whether to quote it."""
    found = (report.get("calibration") or {}).get("intervals", {}).get(key)
    if found is None:
        return "not simulated"
    rate = f"{100 * found['type_i_error']:.1f}% (± {196 * found['type_i_error_se']:.1f})"
    return rate if found["quote"] else f"{rate}: not to be quoted"


def _row(cells, numeric=()) -> str:
    return "<tr>" + "".join(f"<td class='n'>{html.escape(str(c))}</td>" if i in numeric else
                            f"<td>{html.escape(str(c))}</td>" for i, c in enumerate(cells)) + "</tr>"


def _fmt(value, digits=2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value) -> str:
    return "-" if value is None else "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def render(report: dict) -> str:
    trial = report.get("trial") or {}
    d = report["design"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Trial evaluation</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Trial evaluation: {html.escape(str(trial.get('trial', 'unnamed')))} "
             f"(allocation {trial.get('allocation_id', '-')}, version {trial.get('version', '-')})</h1>",
             "<h2>Design</h2><table>",
             _row(["design", d["summary"]]), _row(["seed", d["seed"]]),
             _row(["allocation fingerprint (SHA-256)", report["fingerprint"]]),
             _row(["registered", f"{trial.get('created_at', '-')} by {trial.get('created_by', '-')}"]),
             _row(["window", f"{report['window']['first_day']} to {report['window']['end']}; trial from "
                             f"{report['window']['start']}, {report['window']['periods_before']} periods before, "
                             f"{report['window']['periods_during']} during, {report['window']['period_days']} days each"]),
             _row(["outcome", f"{report['outcome']}: {report['crimes']:,.0f} crimes, harm {report['harm']:,.0f} "
                              f"days, in {report['places']} places"]), "</table>"]
    if "compliance" in report:
        c = report["compliance"]
        parts += ["<h2>Compliance (GPS)</h2><table>",
                  _row(["planned minutes in patrolled places", _fmt(c.get("planned_minutes"), 0)]),
                  _row(["delivered minutes", _fmt(c["delivered_minutes_patrolled"], 0)]),
                  _row(["delivered share", _fmt(c.get("delivered_share"))]),
                  _row(["visits of Koper length", f"{_fmt(c['koper_share'])} ({c['koper_minutes'][0]:.0f} to "
                                                  f"{c['koper_minutes'][1]:.0f} min)"]),
                  _row(["visits to control places", f"{c['control_visits']} ({c['control_minutes']:.0f} min)"]),
                  "</table>"]
    unit = "crimes" if report["outcome"] == "count" else "harm days"
    parts += ["<h2>Estimates</h2><table><tr><th>estimate</th><th>value</th><th>95% interval</th><th>p</th>"
              "<th>type I error of its 5% test in null simulations</th></tr>"]
    for key, fe in report["fixed_effects"].items():
        if isinstance(fe, dict) and "irr" in fe:
            parts.append(_row([f"rate ratio: {fe['model']}", _fmt(fe["irr"], 3),
                               f"{_fmt(fe['irr_ci'][0], 3)} to {_fmt(fe['irr_ci'][1], 3)}", _p(fe["p"]),
                               _null_rate(report, key)]))
    did = report.get("difference_in_differences")
    if did:
        parts.append(_row([f"relative incidence rate ratio (Wilson), Poisson variance of the {unit}",
                           _fmt(did["rirr"], 3),
                           "-" if did["rirr_ci"] is None else f"{_fmt(did['rirr_ci'][0], 3)} to {_fmt(did['rirr_ci'][1], 3)}",
                           _p(did["rirr_p"]), _null_rate(report, "rirr")]))
        parts.append(_row([f"difference in differences, {unit} per week", _fmt(did["did_per_period"], 2),
                           f"{_fmt(did['did_per_period_ci'][0])} to {_fmt(did['did_per_period_ci'][1])}", "",
                           _null_rate(report, "did")]))
    ri = report["randomisation"]
    parts.append(_row([f"randomisation test ({ri['draws']:,} re-draws of the design)", _fmt(ri["statistic"], 1),
                       "", _p(ri["p"]), _null_rate(report, "randomisation")]))
    if "dose_response" in report:
        dr = report["dose_response"]["poisson"]
        parts.append(_row(["rate ratio per hour of delivered patrol (association)", _fmt(dr["irr"], 3),
                           f"{_fmt(dr['irr_ci'][0], 3)} to {_fmt(dr['irr_ci'][1], 3)}", _p(dr["p"]),
                           "not simulated"]))
    parts.append("</table>")
    disp = report.get("displacement")
    if disp and disp["rings"]:
        parts += ["<h2>Displacement and diffusion (buffer rings of H3 cells)</h2><table><tr><th>ring</th>"
                  f"<th>WDD total ({unit}/week)</th><th>95% interval</th><th>WDD displacement part</th><th>WDQ</th>"
                  "<th>total net effect</th></tr>"]
        for r in disp["rings"]:
            w, q = r["wdd"], r.get("wdq") or {}
            parts.append(_row([r["ring"], _fmt(w["total"]), f"{_fmt(w['ci'][0])} to {_fmt(w['ci'][1])}",
                               _fmt(w["displacement"]), _fmt(q.get("wdq")), _fmt(q.get("total_net_effect"))]))
        parts.append("</table><p>WDQ above 0: diffusion of benefit; below 0: displacement; below -1: more displaced "
                     "than prevented. A negative WDD is fewer crimes.</p>")
    for title, svg in _plots(report):
        parts.append(f"<figure><figcaption><b>{html.escape(title)}</b></figcaption>{svg}</figure>")
    parts.append("<h2>What this does and does not show</h2><ul class='reading'>")
    parts += [f"<li>{html.escape(line)}</li>" for line in report["reading"]]
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def write_trial_report(report: dict, path: Path) -> Path:
    """Write the HTML report to ``path``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path
