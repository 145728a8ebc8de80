"""Campaign rules: retry schedules, calling hours in the callee's zone, numbers, lists, config."""
import sqlite3
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhook.dialer.campaign import (
    CallingHours,
    CampaignConfig,
    ContactState,
    Outcome,
    RetryRule,
    decide_retry,
    normalise_number,
    parse_duration,
    read_contacts,
    zone_for,
)
from offhook.errors import CampaignError

RULES = {Outcome.BUSY: RetryRule(600.0, 3), Outcome.NO_ANSWER: RetryRule(3600.0, 2)}


def test_durations():
    assert parse_duration("10m") == 600.0
    assert parse_duration("1h") == 3600.0
    assert parse_duration("1.5 min") == 90.0
    assert parse_duration(45) == 45.0
    with pytest.raises(CampaignError, match="expected a number with s, m, h or d"):
        parse_duration("ten minutes")
    with pytest.raises(CampaignError, match="must not be negative"):
        parse_duration(-1)


def test_busy_retried_three_times_ten_minutes_apart_then_done():
    now = 1_000_000.0
    for used in range(3):
        d = decide_retry(Outcome.BUSY, used, now, RULES)
        assert d.state is ContactState.RETRY and d.next_at == now + 600.0
    assert decide_retry(Outcome.BUSY, 3, now, RULES).state is ContactState.DONE
    assert decide_retry(Outcome.NO_ANSWER, 1, now, RULES).next_at == now + 3600.0
    assert decide_retry(Outcome.NO_ANSWER, 2, now, RULES).state is ContactState.DONE


@pytest.mark.parametrize("outcome", [Outcome.ANSWERED_HUMAN, Outcome.REJECTED, Outcome.ABANDONED])
def test_outcomes_without_rule_are_final(outcome):
    d = decide_retry(outcome, 0, 0.0, RULES)
    assert d.state is ContactState.DONE and d.next_at is None


WEEKDAYS = CallingHours.from_mapping({"mon-fri": "09:00-21:00", "sat": ["10:00-13:00", "14:00-18:00"]})


def test_calling_hours_are_judged_in_the_callees_zone():
    # Monday 2026-03-02 15:00 UTC: 15:00 in London, 10:00 in New York, 00:00 Tuesday in Tokyo.
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert WEEKDAYS.is_open(now, ZoneInfo("Europe/London"))
    assert WEEKDAYS.is_open(now, ZoneInfo("America/New_York"))
    assert not WEEKDAYS.is_open(now, ZoneInfo("Asia/Tokyo"))
    nxt = WEEKDAYS.next_open(now, ZoneInfo("Asia/Tokyo"))
    assert nxt == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # Tuesday 09:00 JST


def test_windows_are_half_open_and_saturday_has_a_lunch_break():
    london = ZoneInfo("Europe/London")
    assert not WEEKDAYS.is_open(datetime(2026, 3, 2, 21, 0, tzinfo=UTC), london)
    assert WEEKDAYS.is_open(datetime(2026, 3, 2, 20, 59, 59, tzinfo=UTC), london)
    sat_lunch = datetime(2026, 3, 7, 13, 30, tzinfo=UTC)
    assert not WEEKDAYS.is_open(sat_lunch, london)
    assert WEEKDAYS.next_open(sat_lunch, london) == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    # Saturday evening -> Monday 09:00 (Sunday has no window).
    assert WEEKDAYS.next_open(datetime(2026, 3, 7, 19, 0, tzinfo=UTC), london) == \
        datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_next_open_follows_daylight_saving():
    london = ZoneInfo("Europe/London")
    # Saturday 28 March 2026 19:00 GMT; clocks go forward on Sunday 29th, so Monday 09:00 is 08:00 UTC.
    assert WEEKDAYS.next_open(datetime(2026, 3, 28, 19, 0, tzinfo=UTC), london) == \
        datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_window_starting_in_a_dst_gap_opens_at_the_first_real_minute():
    hours = CallingHours.from_mapping({"sun": "01:30-03:00"})
    # 29 March 2026 01:00-02:00 local does not exist in London.
    nxt = hours.next_open(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), ZoneInfo("Europe/London"))
    assert nxt == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 BST


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
       st.sampled_from(["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]))
def test_next_open_is_open_and_nothing_earlier_is(naive, zone_name):
    zone = ZoneInfo(zone_name)
    now = naive.replace(tzinfo=UTC)
    nxt = WEEKDAYS.next_open(now, zone)
    assert nxt is not None and nxt >= now
    assert WEEKDAYS.is_open(nxt, zone)
    if nxt > now:  # a minute before the opening was still closed
        assert not WEEKDAYS.is_open(max(now, nxt - timedelta(minutes=1)), zone)


def test_calling_hours_errors():
    with pytest.raises(CampaignError, match="unknown day 'funday'"):
        CallingHours.from_mapping({"funday": "09:00-10:00"})
    with pytest.raises(CampaignError, match="ends before it starts"):
        CallingHours.from_mapping({"mon": "10:00-09:00"})
    with pytest.raises(CampaignError, match="is not HH:MM-HH:MM"):
        CallingHours.from_mapping({"mon": "9am-5pm"})
    with pytest.raises(CampaignError, match="aware datetime"):
        WEEKDAYS.is_open(datetime(2026, 1, 1), ZoneInfo("UTC"))
    assert CallingHours.from_mapping({"sun-tue": "00:00-24:00"}).windows[0] == ((time(0), time.max),)
    assert CallingHours({}).next_open(datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("UTC")) is None


def test_numbers_are_normalised():
    assert normalise_number(" +44 (20) 7946-0018 ") == "+442079460018"
    assert normalise_number("0044 20 7946 0018") == "+442079460018"
    assert normalise_number("sip:bob@example.com") == "sip:bob@example.com"
    with pytest.raises(CampaignError, match="is not a phone number"):
        normalise_number("call me")


def test_zone_lookup_prefers_explicit_then_longest_prefix():
    prefixes = {"+1": "America/New_York", "+1415": "America/Los_Angeles", "+44": "Europe/London"}
    assert zone_for("+14155550100", None, prefixes, "UTC").key == "America/Los_Angeles"
    assert zone_for("+12125550100", None, prefixes, "UTC").key == "America/New_York"
    assert zone_for("+33123456789", None, prefixes, "UTC").key == "UTC"
    assert zone_for("+12125550100", "Asia/Tokyo", prefixes, "UTC").key == "Asia/Tokyo"
    with pytest.raises(CampaignError, match="unknown time zone 'Mars/Olympus'"):
        zone_for("+1", "Mars/Olympus", {}, "UTC")


def test_read_csv_with_extra_columns(tmp_path):
    p = tmp_path / "list.csv"
    p.write_text("Phone,Name,tz,account\n+44 20 7946 0018,Ann,Europe/London,A-1\n0012125550100,Bob,,B-2\n")
    contacts = read_contacts(p)
    assert [c.number for c in contacts] == ["+442079460018", "+12125550100"]
    assert contacts[0].name == "Ann" and contacts[0].tz == "Europe/London"
    assert contacts[1].tz is None and contacts[1].extra == {"account": "B-2"}


def test_read_sqlite_list(tmp_path):
    p = tmp_path / "list.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE contacts (number TEXT, name TEXT, balance INTEGER)")
    con.executemany("INSERT INTO contacts VALUES (?, ?, ?)", [("+15550001", "X", 10), ("+15550002", "Y", 0)])
    con.commit()
    con.close()
    contacts = read_contacts(p)
    assert [(c.number, c.name, c.extra["balance"]) for c in contacts] == [("+15550001", "X", "10"),
                                                                        ("+15550002", "Y", "0")]
    with pytest.raises(CampaignError, match="cannot read table 'leads'"):
        read_contacts(p, table="leads")


def test_bad_lists_say_where(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,email\nAnn,a@x\n")
    with pytest.raises(CampaignError, match="no number column"):
        read_contacts(p)
    p.write_text("number\n+4420\nnot a number\n")
    with pytest.raises(CampaignError, match="row 3: number 'not a number' is not a phone number"):
        read_contacts(p)
    with pytest.raises(CampaignError, match="no such contact list"):
        read_contacts(tmp_path / "missing.csv")


def test_config_from_toml(tmp_path):
    p = tmp_path / "campaign.toml"
    p.write_text("""
[campaign]
mode = "progressive"
abandon_target = 0.02
ring_timeout = "25s"
timezone = "Europe/London"
timezone_prefixes = { "+1" = "America/New_York" }
calling_hours = { "mon-fri" = "09:00-20:00" }
retry = { busy = { delay = "10m", max = 3 }, no-answer = { delay = "1h", max = 2 } }
""")
    cfg = CampaignConfig.from_toml(p)
    assert cfg.mode == "progressive" and cfg.abandon_target == 0.02 and cfg.ring_timeout == 25.0
    assert cfg.retries == {Outcome.BUSY: RetryRule(600.0, 3), Outcome.NO_ANSWER: RetryRule(3600.0, 2)}
    assert cfg.zone("+12125550100").key == "America/New_York"
    assert cfg.zone("+442079460018").key == "Europe/London"


@pytest.mark.parametrize(("spec", "message"), [
    ({"mode": "aggressive"}, "expected preview, progressive or predictive"),
    ({"abandon_target": 3}, "expected a fraction"),
    ({"retry": {"busyy": {"delay": 1}}}, "unknown outcome 'busyy'"),
    ({"colour": "red"}, r"unknown key\(s\) \['colour'\]"),
    ({"timezone": "Nowhere/Land"}, "unknown time zone"),
])
def test_config_errors(spec, message):
    with pytest.raises(CampaignError, match=message):
        CampaignConfig.from_mapping(spec)
