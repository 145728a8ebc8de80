"""A campaign report: statistics from the store, exported as CSV, JSON and self-contained HTML.

The HTML page has no scripts and fetches nothing: tables plus inline SVG
charts (:mod:`offhook.report.svg`).  It is written as well-formed XML
(XHTML-compatible HTML5) so that tests parse it with ``xml.etree``.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from offhook.dialer.campaign import Outcome
from offhook.dialer.store import CampaignStore
from offhook.report.stats import GROUPINGS, GroupStats, group_stats, load_attempts, summarise
from offhook.report.svg import Series, bar_chart

__all__ = ["Report", "build_report"]

_OUTCOME_COLORS = {
    Outcome.ANSWERED_HUMAN.value: "#009E73", Outcome.ABANDONED.value: "#D55E00",
    Outcome.ANSWERING_MACHINE.value: "#CC79A7", Outcome.NO_ANSWER.value: "#56B4E9",
    Outcome.BUSY.value: "#E69F00", Outcome.FAILED.value: "#000000", Outcome.REJECTED.value: "#0072B2",
    Outcome.INTERRUPTED.value: "#999999",
}

_COLUMNS = ("calls", "live", "connected", "abandoned", "answer_rate", "abandon_rate", "average_wait",
            "average_talk", "average_handle", "talk_total", "mos")


@dataclass
class Report:
    title: str
    tz: str
    abandon_target: float
    generated: float
    overall: GroupStats
    groups: dict[str, list[GroupStats]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "tz": self.tz, "abandon_target": self.abandon_target,
                "generated": self.generated, "overall": self.overall.as_dict(),
                "groups": {k: [g.as_dict() for g in v] for k, v in self.groups.items()}}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def to_csv(self) -> str:
        """One row per group: grouping, key, the figures, then one column per outcome."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        outcomes = [o.value for o in Outcome]
        w.writerow(["grouping", "key", *_COLUMNS, *outcomes])
        for grouping, rows in [("all", [self.overall]), *self.groups.items()]:
            for g in rows:
                d = g.as_dict()
                w.writerow([grouping, g.key, *("" if d[c] is None else _csv_num(d[c]) for c in _COLUMNS),
                            *(d["outcomes"][o] for o in outcomes)])
        return buf.getvalue()

    def charts(self) -> dict[str, str]:
        """The report's SVG charts by id."""
        charts: dict[str, str] = {}
        hours = self.groups.get("hour", [])
        outcomes = [o.value for o in Outcome if any(g.outcomes.get(o.value) for g in hours)]
        if hours:
            labels = [g.key for g in hours]
            charts["calls-by-hour"] = bar_chart(
                "calls-by-hour", f"Calls per hour ({self.tz}) by outcome", labels,
                [Series(o, [float(g.outcomes.get(o, 0)) for g in hours], _OUTCOME_COLORS[o])
                 for o in outcomes])
            charts["abandon-by-hour"] = bar_chart(
                "abandon-by-hour", "Abandon rate per hour (abandoned / live)", labels,
                [Series("abandon rate", [g.abandon_rate for g in hours], "#D55E00")],
                target=self.abandon_target, percent=True)
        days = self.groups.get("day", [])
        if days:
            charts["calls-by-day"] = bar_chart(
                "calls-by-day", "Calls per day: live and other", [g.key for g in days],
                [Series("live", [float(g.live) for g in days], "#009E73"),
                 Series("other", [float(g.calls - g.live) for g in days], "#56B4E9")])
        agents = self.groups.get("agent", [])
        if agents:
            charts["talk-by-agent"] = bar_chart(
                "talk-by-agent", "Talk time per agent (minutes)", [g.key for g in agents],
                [Series("talk", [g.talk_total / 60.0 for g in agents], "#0072B2")], unit=" min")
        mix = [o.value for o in Outcome if self.overall.outcomes.get(o.value)]
        if mix:
            charts["outcome-mix"] = bar_chart(
                "outcome-mix", "Outcome mix (calls)", mix,
                [Series("calls", [float(self.overall.outcomes[o]) for o in mix], "#0072B2")])
        return charts

    def to_html(self) -> str:
        t = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.generated))
        parts = [
            "<!DOCTYPE html>",
            '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
            "<head>", '<meta charset="utf-8"/>', f"<title>{escape(self.title)}</title>",
            "<style>body{font-family:sans-serif;margin:2em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "th:first-child,td:first-child{text-align:left}"
            ".over{color:#D55E00;font-weight:bold}figure{margin:1em 0}</style>",
            "</head>", "<body>", f"<h1>{escape(self.title)}</h1>",
            f'<p class="meta">Generated {escape(t)}; hours and days in {escape(self.tz)}; '
            f"abandon-rate target {self.abandon_target * 100:.3g} %.</p>",
            "<h2>Summary</h2>", _table("summary", [self.overall], self.abandon_target),
            "<h2>Charts</h2>",
        ]
        for chart_id, svg in self.charts().items():
            parts.append(f'<figure id="fig-{chart_id}">{svg}</figure>')
        for grouping, rows in self.groups.items():
            parts.append(f"<h2>Per {escape(grouping)}</h2>")
            parts.append(_table(f"by-{grouping}", rows, self.abandon_target))
        parts += ["</body>", "</html>"]
        return "\n".join(parts) + "\n"

    def write(self, directory: str | Path, stem: str = "report") -> dict[str, Path]:
        """Writes ``stem``.csv, .json and .html into ``directory``; returns their paths."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"csv": d / f"{stem}.csv", "json": d / f"{stem}.json", "html": d / f"{stem}.html"}
        paths["csv"].write_text(self.to_csv(), encoding="utf-8")
        paths["json"].write_text(self.to_json(), encoding="utf-8")
        paths["html"].write_text(self.to_html(), encoding="utf-8")
        return paths


def _csv_num(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _fmt(col: str, v: Any) -> str:
    if v is None:
        return "–"
    if col.endswith("_rate"):
        return f"{v * 100:.2f} %"
    if isinstance(v, float):
        return f"{v:.1f}" if col != "mos" else f"{v:.2f}"
    return str(v)


def _table(table_id: str, rows: list[GroupStats], target: float) -> str:
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in ("key", *_COLUMNS))
    body = []
    for g in rows:
        d = g.as_dict()
        cells = []
        for c in _COLUMNS:
            cls = ' class="over"' if c == "abandon_rate" and d[c] > target else ""
            cells.append(f'<td data-col="{c}"{cls}>{escape(_fmt(c, d[c]))}</td>')
        body.append(f'<tr data-key="{escape(g.key)}"><td>{escape(g.key)}</td>{"".join(cells)}</tr>')
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def build_report(store: CampaignStore | sqlite3.Connection | str | Path, *, campaign: str | None = None,
                 tz: str = "UTC", abandon_target: float = 0.03, since: float | None = None,
                 until: float | None = None, generated: float | None = None) -> Report:
    """Statistics of one campaign (or all calls) from a store, grouped every way the report shows."""
    own: CampaignStore | None = None
    if isinstance(store, CampaignStore):
        db = store.connection
    elif isinstance(store, sqlite3.Connection):
        db = store
    else:
        own = CampaignStore(store)
        db = own.connection
    try:
        rows = load_attempts(db, campaign=campaign, since=since, until=until)
    finally:
        if own is not None:
            own.close()
    title = f"Campaign report: {campaign}" if campaign else "Call report: all campaigns and inbound calls"
    groups = {by: group_stats(rows, by, tz=tz) for by in GROUPINGS}
    return Report(title, tz, abandon_target, time.time() if generated is None else generated,
                  summarise(rows), groups)
