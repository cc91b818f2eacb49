"""The model card: what a model forecasts, from what, how well, and what it must not be used for."""

from __future__ import annotations

import numpy as np

from models.backtest import HEADLINE, MODEL, SERVED
from models.training import TrainedModel

_METRIC_HEADERS = {
    "periods": "periods", "hit_rate@1.4%": "hit rate @1.4%", "pai@1%": "PAI @1%", "pai@1.4%": "PAI @1.4%",
    "pai@5%": "PAI @5%", "pei@1.4%": "PEI @1.4%", "poisson_deviance": "Poisson deviance",
    "calibration_ratio": "forecast/observed", "calibration_slope": "calibration slope",
}


def summary_markdown(summary) -> str:
    """The backtest summary as a Markdown table, the model first."""
    cols = [c for c in _METRIC_HEADERS if c in summary.columns]
    lines = ["| method | " + " | ".join(_METRIC_HEADERS[c] for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for method, row in summary.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append("n/a" if v is None or (isinstance(v, float) and np.isnan(v))
                         else f"{int(v)}" if c == "periods" else f"{v:.4f}" if c == "poisson_deviance" else f"{v:.3f}")
        lines.append(f"| {f'**{method}**' if method in (MODEL, SERVED) else method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(trained: TrainedModel, version: int | None = None) -> str:
    """A Markdown model card."""
    t = trained
    first, last = t.forecast_bounds()
    period_word = {"tactical": f"{t.calendar.length_days}-day tactical period", "week": "week",
                   "month": "calendar month"}[t.calendar.kind]
    params = t.model.get_params()
    served = t.served
    lines = [
        f"# Model card: hotspots risk model{f' v{version}' if version is not None else ''}",
        "",
        "## What it forecasts",
        f"- **Target**: the expected count of {t.target.describe()} per H3 resolution-{t.resolution} cell "
        f"(about {_cell_m2(t.resolution):,.0f} m²) in the next {period_word}.",
        f"- **Trained for** the period {first} to {last}, on data from {t.training_start} to {t.training_end} "
        f"({t.n_incidents:,} incidents, {t.n_cells:,} cells).",
        f"- **Serves**: {served.describe()}; {served.reason}.",
        "- **Not targets**: offences that police activity detects (possession of weapons, drugs, stop and search). "
        "Their counts measure patrol effort as much as crime; forecasting them would send patrols where patrols "
        "already were, and the forecast would feed itself. They are not covariates either.",
        "",
        "## How",
        "- scikit-learn `HistGradientBoostingRegressor` with a Poisson loss, seeded: "
        + ", ".join(f"{k}={v}" for k, v in params.items()) + ".",
        f"- Trained on periods {t.calendar.label(np.array(t.model.trained_periods_))[0]} to "
        f"{t.calendar.label(np.array(t.model.trained_periods_))[1]} ({t.model.n_rows_:,} cell-period rows: every "
        "cell with an incident, and a seeded draw of the empty ones weighted back up).",
        "- Features, each from what was known before its period (an incident is known once its whole recorded "
        "interval has passed): " + ", ".join(f"`{n}`" for n in t.model.feature_names_) + ".",
        f"- Covariate offence groups: {', '.join(t.covariate_groups) or 'none'}.",
        f"- User layers: {', '.join(layer.name for layer in t.layers) or 'none'}.",
        "",
        "## How well (rolling-origin backtest)",
    ]
    if t.backtest is None:
        lines.append("Not backtested: this model was trained with `--backtest-periods 0`. Do not promote it "
                     "without a backtest.")
    else:
        lines += [
            "Each test period was forecast by a model fitted only on the periods before it, beside every baseline "
            "on the same cells; means over the test periods:",
            "",
            summary_markdown(t.backtest.summary.drop(columns=["headline_wins"])),
            "",
            f"**{t.backtest.verdict()}**",
            "",
            *served_markdown(t.backtest),
            "Baselines: " + "; ".join(f"`{k}`: {v}" for k, v in t.backtest.baselines.items()) + ".",
            "",
            f"PAI = share of incidents / share of area; PEI = incidents caught / the most any cells of that "
            f"area could have caught. The headline is {HEADLINE}: Project Guardian's hotspots cover 1.4% of the "
            "force area.",
        ]
    lines += [
        "",
        "## Provenance",
        f"- Data fingerprint (BLAKE2b of incident ids, times and offences): `{t.data_fingerprint}`",
        f"- Code: {t.code_version}",
        f"- Periods: {t.calendar.kind}, anchor {t.calendar.anchor}, time zone {t.calendar.timezone}; "
        f"distances in {t.crs}.",
        "",
        "## Use and limits",
        "- It ranks places for the next period; it says nothing about people. It holds no personal data.",
        "- Recorded crime reflects reporting and recording, not all crime; places with more police attention "
        "record more. Read a high score as a place to look at, not a verdict on a community.",
        "- Where the data gives only a month (data.police.uk), a month counts only once it has passed: a forecast "
        "made mid-month does not use that month.",
        "- Scores are expected counts; small cells have small counts, so rank cells and choose areas, rather than "
        "reading one cell's number as a promise.",
    ] + [f"- {n}" for n in t.notes]
    return "\n".join(lines) + "\n"


def served_markdown(backtest) -> list[str]:
    """The served verdict and each test period's choice, made on the periods before it (:mod:`models.serving`)."""
    if backtest.choices is None:
        return []
    lines = [backtest.served_verdict(), "",
             "| period | served | blend partner | calibration factor | forecast/observed |", "|---|---|---|---:|---:|"]
    for r in backtest.choices.itertuples(index=False):
        ratio = r[4]
        lines.append(f"| {r.period} | {r.served} | {r.partner} | {r.calibration:.3f} | "
                     f"{'n/a' if ratio is None or np.isnan(ratio) else f'{ratio:.3f}'} |")
    return lines + [""]


def _cell_m2(resolution: int) -> float:
    import h3

    return h3.average_hexagon_area(resolution, unit="m^2")
