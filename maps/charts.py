"""Small charts as inline SVG for the web pages: no scripts, no network, readable without colour."""

from __future__ import annotations

import html
import math


def bar_chart_svg(bars: list[tuple[str, float | None]], *, title: str, highlight: str | None = None,
                  width: int = 560, bar_height: int = 22) -> str:
    """Horizontal bars, one per (label, value), the ``highlight`` label drawn dark; missing values say so.

    Parameters
    ----------
    bars : (label, value) pairs in the order drawn; a value of None or NaN is written as "no value".
    title : the chart's accessible title and caption.
    highlight : the label to emphasise (the model among its baselines).
    width, bar_height : size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    label_w, pad = 170, 6
    values = [v for _, v in bars if v is not None and not math.isnan(v)]
    top = max(values, default=0.0) or 1.0
    height = pad * 2 + 24 + len(bars) * (bar_height + pad)
    plot_w = width - label_w - 70
    rows = []
    for i, (label, value) in enumerate(bars):
        y = 30 + i * (bar_height + pad)
        strong = label == highlight
        rows.append(f'<text x="{label_w - 8}" y="{y + bar_height * 0.7:.0f}" text-anchor="end" '
                    f'font-weight="{700 if strong else 400}">{html.escape(str(label))}</text>')
        if value is None or math.isnan(value):
            rows.append(f'<text x="{label_w}" y="{y + bar_height * 0.7:.0f}" fill="#555">no value</text>')
            continue
        w = max(plot_w * max(value, 0.0) / top, 1.0)
        rows.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                    f'fill="{"#1d3557" if strong else "#8da9c4"}"/>')
        rows.append(f'<text x="{label_w + w + 6:.1f}" y="{y + bar_height * 0.7:.0f}">{value:.2f}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="13">'
            f'<title>{html.escape(title)}</title>'
            f'<text x="0" y="16" font-weight="600">{html.escape(title)}</text>{"".join(rows)}</svg>')
