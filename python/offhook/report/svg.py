"""Bar charts as inline SVG text: no JavaScript, no fonts to fetch, no plotting library.

Every bar segment is a ``<rect class="bar">`` carrying ``data-series``,
``data-label`` and ``data-value``, and its height is exactly
``value * plot_height / y_max`` (the ``data-scale`` attribute on the chart's
``<g class="plot">`` holds pixels per unit), so a test — or a screen reader
helper — can read the numbers back from the picture.  Output is well-formed
XML (parseable with ``xml.etree``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from offhook.errors import CampaignError

__all__ = ["PALETTE", "Series", "bar_chart", "nice_ceiling"]

#: Colour-blind-safe qualitative palette (Okabe & Ito, 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = ""


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ᵏ that is >= x (1 for x <= 0)."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    base = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * base >= x * (1 - 1e-12):
            return m * base
    return 10.0 * base


def _num(v: float) -> str:
    return f"{v:.6g}"


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              width: int = 640, height: int = 280, unit: str = "", target: float | None = None,
              target_label: str = "target", percent: bool = False) -> str:
    """A (stacked, when several series) bar chart; ``target`` draws a dashed line at that value."""
    if not series:
        raise CampaignError(f"chart {chart_id}: needs at least one series")
    for s in series:
        if len(s.values) != len(labels):
            raise CampaignError(f"chart {chart_id}: series {s.name!r} has {len(s.values)} values "
                                f"for {len(labels)} labels")
        if any(v < 0 or not math.isfinite(v) for v in s.values):
            raise CampaignError(f"chart {chart_id}: series {s.name!r} has a negative or non-finite value")
    left, right, top, bottom = 56, 12, 30, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    y_max = nice_ceiling(max([*totals, target or 0.0, 0.0]))
    scale = plot_h / y_max

    def fmt(v: float) -> str:
        return f"{v * 100:.3g} %" if percent else f"{v:.4g}{unit}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(chart_id)} class="chart" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label={quoteattr(title)}>',
           f'<title>{escape(title)}</title>',
           f'<text class="title" x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<g class="plot" transform="translate({left},{top})" data-scale="{_num(scale)}" '
           f'data-ymax="{_num(y_max)}" data-height="{plot_h}">']
    for i in range(5):
        v = y_max * i / 4
        y = plot_h - v * scale
        out.append(f'<line class="grid" x1="0" x2="{plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
                   'stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text class="tick" x="-6" y="{_num(y + 4)}" font-size="10" text-anchor="end" '
                   f'data-value="{_num(v)}">{escape(fmt(v))}</text>')
    n = max(1, len(labels))
    slot = plot_w / n
    bar_w = slot * 0.7
    label_every = max(1, math.ceil(n / 24))
    for i, label in enumerate(labels):
        x = i * slot + (slot - bar_w) / 2
        base = 0.0
        for k, s in enumerate(series):
            v = s.values[i]
            h = v * scale
            y = plot_h - (base + v) * scale
            color = s.color or PALETTE[k % len(PALETTE)]
            out.append(f'<rect class="bar" data-series={quoteattr(s.name)} data-label={quoteattr(label)} '
                       f'data-value="{_num(v)}" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" '
                       f'height="{_num(h)}" fill="{color}"><title>{escape(f"{label} {s.name}: {fmt(v)}")}'
                       '</title></rect>')
            base += v
        if i % label_every == 0:
            out.append(f'<text class="label" x="{_num(x + bar_w / 2)}" y="{plot_h + 14}" font-size="10" '
                       f'text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line class="axis" x1="0" x2="{plot_w}" y1="{plot_h}" y2="{plot_h}" stroke="#333"/>')
    if target is not None:
        y = plot_h - target * scale
        out.append(f'<line class="target" data-value="{_num(target)}" x1="0" x2="{plot_w}" '
                   f'y1="{_num(y)}" y2="{_num(y)}" stroke="#D55E00" stroke-dasharray="6 3" '
                   'stroke-width="2"/>')
        out.append(f'<text class="target-label" x="{plot_w}" y="{_num(y - 4)}" font-size="10" '
                   f'text-anchor="end" fill="#D55E00">{escape(f"{target_label} {fmt(target)}")}</text>')
    out.append("</g>")
    if len(series) > 1:
        out.append(f'<g class="legend" transform="translate({left},{height - 22})">')
        x = 0.0
        for k, s in enumerate(series):
            color = s.color or PALETTE[k % len(PALETTE)]
            out.append(f'<rect x="{_num(x)}" y="0" width="10" height="10" fill="{color}"/>'
                       f'<text x="{_num(x + 14)}" y="9" font-size="10">{escape(s.name)}</text>')
            x += 24 + 6.5 * len(s.name)
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
