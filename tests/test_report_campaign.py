"""Reports: statistics from a store with known calls, CSV/JSON export, HTML with SVG charts
whose drawn bars are read back and checked against the numbers."""
import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from offhook.dialer import AttemptResult, CampaignConfig, CampaignStore, Contact, Outcome
from offhook.errors import CampaignError
from offhook.report import bar_chart, build_report, group_stats, load_attempts
from offhook.report.svg import Series, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()  # Monday 09:00 UTC
CFG = CampaignConfig(retries={})

# (hour offset, minute, outcome, agent, wait, talk, mos)
CALLS = [
    (0, 5, Outcome.ANSWERED_HUMAN, "ann", 0.0, 120.0, 4.2),
    (0, 10, Outcome.ANSWERED_HUMAN, "bob", 1.0, 60.0, 3.8),
    (0, 15, Outcome.BUSY, None, None, None, None),
    (0, 20, Outcome.NO_ANSWER, None, None, None, None),
    (0, 25, Outcome.ABANDONED, None, 2.0, None, None),
    (1, 5, Outcome.ANSWERED_HUMAN, "ann", 0.5, 180.0, None),
    (1, 10, Outcome.ANSWERING_MACHINE, None, None, None, None),
    (1, 15, Outcome.FAILED, None, None, None, None),
    (25, 0, Outcome.ANSWERED_HUMAN, "bob", 0.0, 30.0, 4.0),  # the next day, 10:00
    (25, 5, Outcome.REJECTED, None, None, None, None),
]


@pytest.fixture
def store():
    s = CampaignStore(":memory:")
    cid = s.create_campaign("spring", T0)
    s.add_contacts(cid, [Contact(f"+4420794600{i:02d}") for i in range(len(CALLS))])
    claims = s.claim_due(cid, T0, len(CALLS), CFG)
    for claim, (h, m, outcome, agent, wait, talk, mos) in zip(claims, CALLS, strict=True):
        start = T0 + h * 3600 + m * 60
        s.connection.execute("UPDATE attempts SET started = ? WHERE id = ?", (start, claim.attempt_id))
        s.finish(claim, AttemptResult(outcome, start + 30 + (talk or 0), agent=agent, wait=wait, talk=talk,
                                      wrap=10.0 if talk else None, mos=mos), CFG)
    s.record_inbound("+447700900123", AttemptResult(Outcome.ANSWERED_HUMAN, T0 + 400, agent="ann",
                                                    wait=3.0, talk=90.0, mos=4.4), started=T0 + 300)
    return s


def test_overall_figures(store):
    rep = build_report(store, campaign="spring", generated=T0)
    o = rep.overall
    assert (o.calls, o.live, o.connected, o.abandoned) == (10, 5, 4, 1)
    assert o.answer_rate == pytest.approx(0.5)
    assert o.abandon_rate == pytest.approx(0.2)
    assert o.average_wait == pytest.approx((0 + 1 + 2 + 0.5 + 0) / 5)
    assert o.average_talk == pytest.approx((120 + 60 + 180 + 30) / 4)
    assert o.average_handle == pytest.approx((120 + 60 + 180 + 30) / 4 + 10)
    assert o.mos == pytest.approx((4.2 + 3.8 + 4.0) / 3)
    assert o.outcomes == {"answered-human": 4, "busy": 1, "no-answer": 1, "abandoned": 1,
                          "answering-machine": 1, "failed": 1, "rejected": 1}


def test_groupings(store):
    rep = build_report(store, campaign="spring", generated=T0)
    hours = {g.key: g for g in rep.groups["hour"]}
    assert {k: g.calls for k, g in hours.items()} == {"09": 5, "10": 5}
    assert hours["09"].abandon_rate == pytest.approx(1 / 3)
    days = {g.key: g.calls for g in rep.groups["day"]}
    assert days == {"2026-03-02": 8, "2026-03-03": 2}
    agents = {g.key: (g.calls, g.talk_total) for g in rep.groups["agent"]}
    assert agents == {"ann": (2, 300.0), "bob": (2, 90.0)}
    # Hours follow the report's zone: 09:00 UTC is 04:00 in New York.
    ny = {g.key for g in group_stats(load_attempts(store.connection, campaign="spring"), "hour",
                                     tz="America/New_York")}
    assert ny == {"04", "05"}


def test_inbound_calls_are_in_the_all_calls_report(store):
    rep = build_report(store, generated=T0)
    directions = {g.key: g.calls for g in rep.groups["direction"]}
    assert directions == {"inbound": 1, "outbound": 10}
    assert {g.key for g in rep.groups["campaign"]} == {"spring", "(inbound)"}


def test_csv_and_json_agree_with_the_stats(store):
    rep = build_report(store, campaign="spring", generated=T0)
    rows = list(csv.DictReader(io.StringIO(rep.to_csv())))
    overall = next(r for r in rows if r["grouping"] == "all")
    assert int(overall["calls"]) == 10 and float(overall["abandon_rate"]) == pytest.approx(0.2)
    assert int(overall["busy"]) == 1
    ann = next(r for r in rows if r["grouping"] == "agent" and r["key"] == "ann")
    assert float(ann["talk_total"]) == 300.0 and ann["mos"] == "4.2"
    data = json.loads(rep.to_json())
    assert data["overall"]["answer_rate"] == pytest.approx(0.5)
    assert [g["key"] for g in data["groups"]["day"]] == ["2026-03-02", "2026-03-03"]


def bars(svg_root):
    return [(r.get("data-series"), r.get("data-label"), float(r.get("data-value")), float(r.get("height")),
             float(r.get("y"))) for r in svg_root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_html_is_self_contained_and_its_charts_draw_the_numbers(store, tmp_path):
    rep = build_report(store, campaign="spring", generated=T0)
    paths = rep.write(tmp_path)
    html = paths["html"].read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/", "")
    root = ET.fromstring(html)  # well-formed
    svgs = {s.get("id"): s for s in root.iter(f"{SVG}svg")}
    assert set(svgs) == {"calls-by-hour", "abandon-by-hour", "calls-by-day", "talk-by-agent", "outcome-mix"}

    for svg in svgs.values():
        plot = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "plot")
        scale, plot_h = float(plot.get("data-scale")), float(plot.get("data-height"))
        for _, _, value, height, y in bars(svg):
            assert height == pytest.approx(value * scale, abs=1e-3)
            assert y >= 0 and y + height <= plot_h + 1e-6

    # Calls per hour, stacked by outcome: segment values are the outcome counts, stacks the totals.
    by_hour = bars(svgs["calls-by-hour"])
    stacks = {}
    for series, label, value, _height, _ in by_hour:
        stacks[label] = stacks.get(label, 0.0) + value
        if (series, label) == ("busy", "09"):
            assert value == 1
    assert stacks == {"09": 5.0, "10": 5.0}
    # The abandon-rate chart draws 1/3 at 09 and 0 at 10, with the 3 % target line.
    ab = {label: value for _, label, value, _, _ in bars(svgs["abandon-by-hour"])}
    assert ab == {"09": pytest.approx(1 / 3, rel=1e-5), "10": 0.0}
    target = next(e for e in svgs["abandon-by-hour"].iter(f"{SVG}line") if e.get("class") == "target")
    assert float(target.get("data-value")) == 0.03
    talk = {label: value for _, label, value, _, _ in bars(svgs["talk-by-agent"])}
    assert talk == {"ann": 5.0, "bob": 1.5}  # minutes

    # The summary table shows the same figures, flagged when over target.
    cells = {td.get("data-col"): td for td in root.iter(f"{XHTML}td") if td.get("data-col")}
    summary = next(t for t in root.iter(f"{XHTML}table") if t.get("id") == "summary")
    tds = {td.get("data-col"): td for td in summary.iter(f"{XHTML}td") if td.get("data-col")}
    assert tds["abandon_rate"].text == "20.00 %" and tds["abandon_rate"].get("class") == "over"
    assert tds["calls"].text == "10"
    assert cells


def test_bar_chart_scale_and_errors():
    assert [nice_ceiling(x) for x in (0.0, 0.03, 7, 10, 11, 230)] == [1.0, 0.05, 10.0, 10.0, 20.0, 250.0]
    svg = ET.fromstring(bar_chart("x", "t & <b>", ["a", "b"], [Series("s", [3.0, 6.0])]))
    assert svg.find(f"{SVG}title").text == "t & <b>"
    heights = {r.get("data-label"): float(r.get("height")) for r in svg.iter(f"{SVG}rect")
               if r.get("class") == "bar"}
    assert heights["b"] == pytest.approx(2 * heights["a"])
    with pytest.raises(CampaignError, match="has 1 values for 2 labels"):
        bar_chart("x", "t", ["a", "b"], [Series("s", [1.0])])
    with pytest.raises(CampaignError, match="negative or non-finite"):
        bar_chart("x", "t", ["a"], [Series("s", [-1.0])])


def test_report_errors(store):
    with pytest.raises(CampaignError, match="no campaign 'autumn'"):
        build_report(store, campaign="autumn")
    with pytest.raises(CampaignError, match="report time zone 'Moon/Base'"):
        build_report(store, tz="Moon/Base")
    with pytest.raises(CampaignError, match="report grouping 'week'"):
        group_stats([], "week")
