"""Backtest reports: a table and a plot an analyst reads before promoting a model."""

from __future__ import annotations

import json
from pathlib import Path

from models.backtest import HEADLINE, MODEL, BacktestResult
from models.card import summary_markdown


def plot_backtest(result: BacktestResult, path: Path, metric: str = HEADLINE) -> Path:
    """PAI at 1.4% (or ``metric``) per test period, one line per method, the model in bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = result.per_period.pivot(index="period", columns="method", values=metric)
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for method in wide.columns:
        is_model = method == MODEL
        ax.plot(range(len(wide)), wide[method], marker="o", lw=2.6 if is_model else 1.2,
                color="black" if is_model else None, label=method, zorder=3 if is_model else 2)
    ax.set_xticks(range(len(wide)), [p.split("..")[0] for p in wide.index], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric.replace("pai", "PAI").replace("@", " at "))
    ax.set_xlabel("test period (start)")
    ax.set_title("Rolling-origin backtest: each period forecast from the periods before it only")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_backtest_report(result: BacktestResult, folder: str | Path, title: str = "Backtest") -> list[Path]:
    """``backtest.md`` (summary and verdict), ``backtest.csv`` (every period), ``backtest.json`` and ``backtest.png``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "backtest.csv"
    result.per_period.to_csv(csv, index=False, float_format="%.6g")
    png = plot_backtest(result, folder / "backtest.png")
    md = folder / "backtest.md"
    baselines = "\n".join(f"- `{k}`: {v}" for k, v in result.baselines.items())
    md.write_text(f"# {title}\n\n{result.verdict()}\n\nMeans over the test periods:\n\n"
                  f"{summary_markdown(result.summary.drop(columns=['headline_wins']))}\n\n"
                  f"Baselines:\n{baselines}\n\nEvery period: `{csv.name}`. Plot: `{png.name}`.\n\n"
                  f"![{HEADLINE} per period]({png.name})\n", encoding="utf-8")
    js = folder / "backtest.json"
    js.write_text(json.dumps(result.to_dict(), indent=2, default=float), encoding="utf-8")
    return [md, csv, js, png]
