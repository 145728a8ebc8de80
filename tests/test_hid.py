"""USB HID telephony: descriptor parsing, button decoding and LED encoding, from bytes.

No HID device can exist on the test machines (no uhid, no USB), so everything here is
driven by report descriptors written in the shapes of real headsets (tests/data/hid)
and by input reports written out byte by byte.
"""
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offhook.devices.hid import (
    ControlShape,
    DeviceError,
    HidDescriptorError,
    HidReportError,
    IndicatorEncoder,
    IndicatorState,
    MainFlags,
    PhoneAction,
    ReportKind,
    TelephonyDecoder,
    build_report,
    field_values,
    pack_report,
    parse_report_descriptor,
    split_report,
    usage_values,
)
from offhook.devices.hid import usages as u
from offhook.devices.hid.report import read_bits

DATA = Path(__file__).parent / "data" / "hid"
ANSWER, HANG_UP, MUTE, UNMUTE, FLASH, REDIAL = (
    PhoneAction.ANSWER, PhoneAction.HANG_UP, PhoneAction.MUTE, PhoneAction.UNMUTE,
    PhoneAction.FLASH, PhoneAction.REDIAL)


def load(name: str) -> bytes:
    lines = (DATA / f"{name}.hex").read_text().splitlines()
    return bytes.fromhex(" ".join(line.split("#", 1)[0] for line in lines))


FIXTURES = ["jabra_like", "poly_like", "yealink_like", "usb_phone_no_ids"]


def layout(descriptor, kind, report_id):
    """(bit offset, size, count, usages or 'const', relative?) for each field of a report."""
    rows = []
    for f in descriptor.fields_of(kind, report_id):
        usages = "const" if f.is_constant else f.usage_ranges
        rows.append((f.bit_offset, f.size, f.count, usages, f.is_relative))
    return rows


def ranges(*usages):
    return tuple((x, x) for x in usages)


# ---------------------------------------------------------------- descriptor parsing

def test_jabra_like_descriptor_layout():
    d = parse_report_descriptor(load("jabra_like"))
    assert d.uses_report_ids
    assert d.applications == (u.usage(0x0C, 0x01), u.TELEPHONY_HEADSET)
    assert d.report_ids(ReportKind.INPUT) == (1, 2)
    assert d.report_ids(ReportKind.OUTPUT) == (2,)
    assert d.report_ids(ReportKind.FEATURE) == ()
    assert d.report_length(ReportKind.INPUT, 1) == 1
    assert d.report_length(ReportKind.INPUT, 2) == 2
    assert d.report_length(ReportKind.OUTPUT, 2) == 1
    assert layout(d, ReportKind.INPUT, 2) == [
        (0, 1, 2, ranges(u.TELEPHONY_HOOK_SWITCH, u.TELEPHONY_LINE_BUSY_TONE), False),
        (2, 1, 3, ranges(u.TELEPHONY_PHONE_MUTE, u.TELEPHONY_FLASH, u.TELEPHONY_REDIAL), True),
        # "09 07" came before "05 09": the page in force at the main item applies (Button 7)
        (5, 1, 1, ranges(u.usage(u.BUTTON_PAGE, 7)), False),
        (6, 4, 1, ((0x000B00B0, 0x000B00BB),), False),
        (10, 1, 6, "const", False),
    ]
    assert layout(d, ReportKind.OUTPUT, 2) == [
        (0, 1, 5, ranges(u.LED_OFF_HOOK, u.LED_MUTE, u.LED_RING, u.LED_HOLD, u.LED_MICROPHONE), False),
        (5, 1, 1, ranges(u.TELEPHONY_RINGER), False),
        (6, 1, 2, "const", False),
    ]
    hook = d.fields_of(ReportKind.INPUT, 2)[0]
    assert hook.flags == MainFlags.VARIABLE | MainFlags.NO_PREFERRED_STATE
    assert hook.application == u.TELEPHONY_HEADSET
    keypad = d.fields_of(ReportKind.INPUT, 2)[3]
    assert not keypad.is_variable
    assert [c.usage for c in keypad.collections] == [u.TELEPHONY_HEADSET, u.usage(0x0B, 0x06)]
    assert (keypad.logical_minimum, keypad.logical_maximum) == (1, 12)
    assert keypad.usage_for_value(1) == 0x000B00B0
    assert keypad.usage_for_value(12) == 0x000B00BB
    assert keypad.usage_for_value(0) is None  # null: no key down


def test_poly_like_descriptor_layout():
    d = parse_report_descriptor(load("poly_like"))
    assert d.report_ids(ReportKind.INPUT) == (8,)
    assert d.report_ids(ReportKind.OUTPUT) == (0x09, 0x17, 0x18)
    assert layout(d, ReportKind.INPUT, 8) == [
        (0, 1, 1, ranges(u.TELEPHONY_PHONE_MUTE), True),
        (1, 1, 2, ranges(u.TELEPHONY_HOOK_SWITCH, u.TELEPHONY_FLASH), False),
        (3, 1, 5, "const", False),
    ]
    for report_id, led in ((0x09, u.LED_MUTE), (0x17, u.LED_OFF_HOOK), (0x18, u.LED_RING)):
        assert d.report_length(ReportKind.OUTPUT, report_id) == 1
        assert layout(d, ReportKind.OUTPUT, report_id) == [(0, 1, 1, ranges(led), False),
                                                           (1, 1, 7, "const", False)]


def test_yealink_like_descriptor_layout_extended_usage_and_push_pop():
    d = parse_report_descriptor(load("yealink_like"))
    assert layout(d, ReportKind.INPUT, 2) == [
        (0, 1, 1, ranges(u.TELEPHONY_HOOK_SWITCH), True),  # from the 4-byte extended usage
        (1, 1, 3, ranges(u.TELEPHONY_PHONE_MUTE, u.TELEPHONY_FLASH, u.TELEPHONY_REDIAL), True),
        (4, 1, 4, ((0x00090001, 0x00090004),), False),
    ]
    # Pop restored the Telephony page: the second logical collection is Phone, not Button 1
    assert [c.usage for c in d.collections] == [u.TELEPHONY_HEADSET, u.TELEPHONY_PHONE, u.TELEPHONY_PHONE]
    assert [c.type for c in d.collections] == [1, 2, 2]
    assert layout(d, ReportKind.OUTPUT, 4) == [
        (0, 1, 4, ranges(u.LED_OFF_HOOK, u.LED_MUTE, u.LED_RING, u.LED_HOLD), False),
        (4, 1, 4, "const", False),
    ]
    buttons = d.fields_of(ReportKind.INPUT, 2)[2]
    assert [buttons.usage(i) for i in range(4)] == [0x00090001, 0x00090002, 0x00090003, 0x00090004]


def test_usb_phone_without_report_ids_layout():
    d = parse_report_descriptor(load("usb_phone_no_ids"))
    assert not d.uses_report_ids
    assert d.report_ids(ReportKind.INPUT) == (0,)
    assert d.report_length(ReportKind.INPUT, 0) == 3
    assert d.report_length(ReportKind.OUTPUT, 0) == 1
    assert layout(d, ReportKind.INPUT, 0) == [
        (0, 1, 2, ranges(u.TELEPHONY_HOOK_SWITCH, u.TELEPHONY_PHONE_MUTE), False),
        (2, 1, 6, "const", False),
        (8, 8, 2, ((0x000B00B0, 0x000B00BB),), False),
    ]
    leds = d.fields_of(ReportKind.OUTPUT, 0)[0]
    assert (leds.bit_offset, leds.size, leds.count, leds.is_signed) == (0, 2, 2, True)
    assert (leds.logical_minimum, leds.logical_maximum) == (-1, 1)


def test_variable_field_repeats_its_last_usage_and_logical_maximum_reads_unsigned():
    # 8 one-bit elements, two usages: elements 1..7 all take the second (§6.2.2.8)
    d = parse_report_descriptor(bytes.fromhex("050b 15 00 25 ff 7508 9501 8102 7501 9508 0920 092f 8102"))
    byte_field, bits = d.fields
    assert (byte_field.logical_minimum, byte_field.logical_maximum) == (0, 255)  # 25 FF is 255, not -1
    assert [bits.usage(i) for i in (0, 1, 7)] == [u.TELEPHONY_HOOK_SWITCH] + [u.TELEPHONY_PHONE_MUTE] * 2
    with pytest.raises(IndexError):
        bits.usage(8)


def test_usage_page_applies_to_trailing_usages_declared_before_it():
    # §6.2.2.7 vs §6.2.2.8: X stays on Generic Desktop; 0x30 declared before "05 09"
    # with nothing on the Button page after it becomes Button 0x30 (Linux's reading)
    d = parse_report_descriptor(bytes.fromhex("0501 0930 0502 09ba 7508 9502 1500 2601ff 8102"
                                              "0501 0930 0509 9501 8102"))
    first, second = d.fields
    assert first.usage_ranges == ranges(0x00010030, 0x000200BA)
    assert second.usage_ranges == ranges(0x00090030)


def test_long_items_are_skipped_and_delimiters_keep_the_first_usage():
    desc = bytes.fromhex("fe 03 10 aa bb cc"                       # a long item, 3 data bytes
                         "050b a9 01 0920 a9 00 a9 01 092f a9 00"  # two delimiter sets
                         "7501 9501 1500 2501 8102")
    d = parse_report_descriptor(desc)
    (field,) = d.fields
    assert field.usage_ranges == ranges(u.TELEPHONY_HOOK_SWITCH)


def test_field_values_and_usage_values_read_reports():
    d = parse_report_descriptor(load("jabra_like"))
    hook, _rel, button, keypad, _pad = d.fields_of(ReportKind.INPUT, 2)
    # keypad entry 5 (Phone Key 4) in bits 6-9, hook switch and Button 7 set
    report = bytes([2, 0b0110_0001, 0b01])
    assert split_report(d, ReportKind.INPUT, report) == (2, report[1:])
    assert field_values(hook, report[1:]) == [1, 0]
    assert field_values(button, report[1:]) == [1]
    assert field_values(keypad, report[1:]) == [5]
    wanted = {u.TELEPHONY_HOOK_SWITCH, u.TELEPHONY_FLASH, 0x000B00B4, 0x000B00B5, u.LED_MUTE}
    assert usage_values(d, report, wanted) == (2, {
        u.TELEPHONY_HOOK_SWITCH: 1, u.TELEPHONY_FLASH: 0, 0x000B00B4: 1, 0x000B00B5: 0})
    # signed fields sign-extend
    phone = parse_report_descriptor(load("usb_phone_no_ids"))
    leds = phone.fields_of(ReportKind.OUTPUT, 0)[0]
    assert field_values(leds, bytes([0b0111])) == [-1, 1]


def test_read_bits_spans_bytes_and_refuses_out_of_range():
    assert read_bits(bytes([0b1100_0000, 0b0000_0011]), 6, 4) == 0b1111
    assert read_bits(bytes([0xFF]), 0, 0) == 0
    with pytest.raises(HidReportError, match=r"bits 4\.\.11 lie outside 1 bytes of report data"):
        read_bits(bytes([0xFF]), 4, 8)


# ---------------------------------------------------------------- malformed descriptors

@pytest.mark.parametrize(("hexdesc", "offset", "reason"), [
    ("05", 0, "item 0x05 needs 1 data bytes but only 0 remain (truncated descriptor)"),
    ("050b 0b 20 00", 2, "item 0x0B needs 4 data bytes but only 2 remain (truncated descriptor)"),
    ("fe 05 00 01", 0, "long item declares 5 data bytes but only 1 remain"),
    ("fe 05", 0, "long item header is truncated"),
    ("a4 b4 b4", 2, "Pop without a matching Push"),
    ("76 01 01", 0, "Report Size 257 bits exceeds the limit of 256"),
    ("96 00 40", 0, "Report Count 16384 exceeds the limit of 12288"),
    ("76 00 01 96 00 30 81 02", 6, "input report 0 grows past 16384 bytes"),
    ("75 08 95 ff 81 02 " * 69, 388, "input report 0 grows past 16384 bytes"),
    ("c0", 0, "End Collection without an open collection"),
    ("85 00", 0, "Report ID 0 is invalid (1..255; 0 is reserved)"),
    ("86 00 01", 0, "Report ID 256 is invalid (1..255; 0 is reserved)"),
    ("0c", 0, "item 0x0C has the reserved type 3"),
    ("d0", 0, "main item tag 0xD is reserved"),
    ("c4", 0, "global item tag 0xC is reserved"),
    ("f8", 0, "local item tag 0xF is reserved"),
    ("07 00 00 01 00", 0, "Usage Page 0x10000 does not fit 16 bits"),
    ("19 01 75 01 95 01 81 02", 6, "Usage Minimum/Maximum pair lacks its Usage Maximum"),
    ("19 01 19 02", 2, "Usage Minimum repeated before its Usage Maximum"),
    ("05 0b 19 05 29 01 81 02", 6, "Usage Maximum 0x000B0001 is below Usage Minimum 0x000B0005"),
    ("05 0b 1b 01 00 09 00 29 05 81 02", 9,
     "Usage Minimum 0x00090001 and Usage Maximum 0x000B0005 are on different usage pages"),
    ("15 05 25 01 75 08 95 01 81 02", 8, "Logical Maximum 1 is below Logical Minimum 5"),
    ("75 08 95 01 81 02 85 01 81 02", 4,
     "a data item comes before the first Report ID although the descriptor uses report IDs"),
    ("a9 01 a9 01", 2, "Delimiter sets cannot nest"),
    ("a9 00", 0, "Delimiter close without an open"),
    ("a9 02", 0, "Delimiter value 2 is neither 0 (close) nor 1 (open)"),
    ("a9 01 81 02", 2, "a Delimiter set is still open at a main item"),
    ("a4" * 17, 16, "Push nests deeper than 16"),
    ("a1 00" * 33, 64, "collections nest deeper than 32"),
])
def test_malformed_descriptors_raise_clear_errors(hexdesc, offset, reason):
    with pytest.raises(HidDescriptorError) as info:
        parse_report_descriptor(bytes.fromhex(hexdesc))
    assert info.value.offset == offset
    assert info.value.reason == reason
    assert str(info.value) == f"HID report descriptor byte {offset}: {reason}"
    assert isinstance(info.value, ValueError) and isinstance(info.value, DeviceError)


def test_descriptor_level_errors():
    with pytest.raises(HidDescriptorError, match=r"^HID report descriptor: the descriptor is empty$"):
        parse_report_descriptor(b"")
    with pytest.raises(HidDescriptorError, match=r"4097 bytes exceed the limit of 4096"):
        parse_report_descriptor(bytes(4097))
    with pytest.raises(HidDescriptorError, match=r"the collection opened at byte 0 is never closed"):
        parse_report_descriptor(bytes.fromhex("a101 a102 c0"))  # c0 closes the inner one
    with pytest.raises(TypeError, match="a report descriptor is bytes, not str"):
        parse_report_descriptor("05 0b")  # type: ignore[arg-type]


# ---------------------------------------------------------------- decoding button reports

def feed_all(decoder, reports):
    return [decoder.feed(bytes(r)) for r in reports]


def test_jabra_like_absolute_hook_relative_buttons():
    d = TelephonyDecoder(parse_report_descriptor(load("jabra_like")))
    assert d.hook_switch_shape is ControlShape.ABSOLUTE
    steps = feed_all(d, [
        [2, 0x00, 0],          # idle
        [2, 0x01, 0],          # off-hook
        [2, 0x01, 0],          # the same state repeated: nothing new
        [2, 0x01, 0],
        [2, 0x05, 0],          # mute pressed (bit 2) while off-hook
        [2, 0x05, 0],          # ... held
        [2, 0x01, 0],          # released
        [2, 0x05, 0],          # pressed again: unmute
        [2, 0x01, 0],
        [2, 0x09, 0],          # flash (bit 3)
        [2, 0x01, 0],
        [2, 0x11, 0],          # redial (bit 4)
        [2, 0x03, 0],          # line busy (bit 1) goes on: no action
        [1, 0x01],             # report 1, volume up: not telephony
        [2, 0x00, 0],          # on-hook
        [2, 0x00, 0],
    ])
    assert steps == [[], [ANSWER], [], [], [MUTE], [], [], [UNMUTE], [], [FLASH], [], [REDIAL], [], [],
                     [HANG_UP], []]
    assert (d.off_hook, d.muted) == (False, False)


def test_several_changes_in_one_report_come_out_in_descriptor_order():
    d = TelephonyDecoder(parse_report_descriptor(load("jabra_like")))
    assert d.feed(bytes([2, 0b1_1101, 0])) == [ANSWER, MUTE, FLASH, REDIAL]
    assert d.feed(bytes([2, 0b0_0000, 0])) == [HANG_UP]


def test_sync_keeps_a_catching_up_headset_from_repeating_actions():
    d = TelephonyDecoder(parse_report_descriptor(load("jabra_like")))
    d.sync(off_hook=True)                       # answered in the application's window
    assert d.feed(bytes([2, 0x01, 0])) == []    # headset follows the off-hook LED
    d.sync(off_hook=False)                      # the far end hung up
    assert d.feed(bytes([2, 0x01, 0])) == []    # headset has not caught up yet
    assert d.feed(bytes([2, 0x00, 0])) == []    # ... now it has
    assert d.feed(bytes([2, 0x01, 0])) == [ANSWER]
    d.sync(muted=True)
    assert d.feed(bytes([2, 0x05, 0])) == [UNMUTE]  # a toggle acts on the synced state


def test_decoder_starting_state():
    d = TelephonyDecoder(parse_report_descriptor(load("jabra_like")), off_hook=True)
    assert d.feed(bytes([2, 0x01, 0])) == []
    assert d.feed(bytes([2, 0x00, 0])) == [HANG_UP]


def test_poly_like_sequence():
    d = TelephonyDecoder(parse_report_descriptor(load("poly_like")))
    steps = feed_all(d, [[8, 0b000], [8, 0b010], [8, 0b011], [8, 0b010], [8, 0b110], [8, 0b110],
                         [8, 0b010], [8, 0b011], [8, 0b000]])
    assert steps == [[], [ANSWER], [MUTE], [], [FLASH], [], [], [UNMUTE], [HANG_UP]]


def test_relative_hook_switch_toggles_on_each_press():
    d = TelephonyDecoder(parse_report_descriptor(load("yealink_like")))
    assert d.hook_switch_shape is ControlShape.TOGGLE
    steps = feed_all(d, [[2, 0x01], [2, 0x01], [2, 0x00], [2, 0x01], [2, 0x00], [2, 0xF0], [2, 0x01],
                         [2, 0x03], [2, 0x01], [2, 0x05], [2, 0x09], [2, 0x00]])
    # press: answer; held; release; press: hang up; release; buttons page: nothing; press: answer;
    # mute pressed; released; flash; redial (flash released at the same time)
    assert steps == [[ANSWER], [], [], [HANG_UP], [], [], [ANSWER], [MUTE], [], [FLASH], [REDIAL], []]


def test_usb_phone_absolute_mute_and_keypad():
    d = TelephonyDecoder(parse_report_descriptor(load("usb_phone_no_ids")))
    steps = feed_all(d, [[0, 0, 0], [1, 0, 0], [1, 5, 0], [3, 5, 6], [3, 0, 0], [1, 0, 0], [0, 0, 0]])
    assert steps == [[], [ANSWER], [], [MUTE], [], [UNMUTE], [HANG_UP]]


def test_up_down_hook_switch_and_array_buttons():
    # Hook Switch as a relative -1/+1 pair, then an array of Hook Switch/Flash entries
    up_down = parse_report_descriptor(bytes.fromhex(
        "050b 0920 15ff 2501 7502 9501 8106 7506 8101"))
    d = TelephonyDecoder(up_down)
    assert d.hook_switch_shape is ControlShape.UP_DOWN
    assert feed_all(d, [[0x01], [0x00], [0x01], [0x03], [0x03], [0x00], [0x03]]) == [
        [ANSWER], [], [], [HANG_UP], [], [], []]
    array = parse_report_descriptor(bytes.fromhex("050b 1920 2921 1501 2502 7508 9502 8104"))
    d = TelephonyDecoder(array)
    assert d.hook_switch_shape is ControlShape.TOGGLE
    assert feed_all(d, [[1, 0], [1, 0], [0, 0], [2, 0], [2, 1], [0, 0]]) == [
        [ANSWER], [], [], [FLASH], [HANG_UP], []]


def test_device_without_telephony_buttons_gives_no_actions():
    keyboard_like = parse_report_descriptor(bytes.fromhex("0507 19e0 29e7 1500 2501 7501 9508 8102"))
    d = TelephonyDecoder(keyboard_like)
    assert d.controls == () and d.hook_switch_shape is None
    assert d.feed(b"\xff") == []


def test_bad_input_reports_raise_clear_errors():
    d = TelephonyDecoder(parse_report_descriptor(load("jabra_like")))
    with pytest.raises(HidReportError, match=r"^the descriptor defines no input report with ID 5 "
                                             r"\(its input report IDs: 1, 2\)$"):
        d.feed(bytes([5, 0, 0]))
    with pytest.raises(HidReportError, match=r"^input report 2 has 1 data bytes; its descriptor needs 2$"):
        d.feed(bytes([2, 1]))
    with pytest.raises(HidReportError, match=r"^empty input report: a report ID byte was expected$"):
        d.feed(b"")
    with pytest.raises(TypeError, match="a report is bytes, not list"):
        d.feed([2, 0, 0])  # type: ignore[arg-type]
    assert d.feed(bytes([2, 1, 0, 0xEE, 0xEE])) == [ANSWER]  # padded reports (Windows) are fine


# ---------------------------------------------------------------- LED output reports

@pytest.mark.parametrize(("state", "expected"), [
    (IndicatorState(), [b"\x02\x00"]),
    (IndicatorState(off_hook=True), [b"\x02\x01"]),
    (IndicatorState(off_hook=True, muted=True), [b"\x02\x03"]),
    (IndicatorState(ringing=True), [b"\x02\x24"]),      # Ring LED and the Telephony Ringer
    (IndicatorState(off_hook=True, on_hold=True), [b"\x02\x09"]),
    (IndicatorState(microphone=True), [b"\x02\x10"]),
    (IndicatorState(True, True, True, True, True), [b"\x02\x3f"]),
])
def test_jabra_like_leds(state, expected):
    enc = IndicatorEncoder(parse_report_descriptor(load("jabra_like")))
    assert enc.encode(state) == expected


def test_poly_like_leds_go_in_one_report_each():
    enc = IndicatorEncoder(parse_report_descriptor(load("poly_like")))
    assert enc.report_ids == (0x09, 0x17, 0x18)
    assert enc.indicators == {u.LED_MUTE, u.LED_OFF_HOOK, u.LED_RING}
    assert enc.encode(IndicatorState(off_hook=True, ringing=True)) == [b"\x09\x00", b"\x17\x01", b"\x18\x01"]
    assert enc.encode(IndicatorState(muted=True, on_hold=True)) == [b"\x09\x01", b"\x17\x00", b"\x18\x00"]


def test_yealink_like_and_unnumbered_leds():
    enc = IndicatorEncoder(parse_report_descriptor(load("yealink_like")))
    assert enc.encode(IndicatorState(muted=True, on_hold=True, microphone=True)) == [b"\x04\x0a"]
    enc = IndicatorEncoder(parse_report_descriptor(load("usb_phone_no_ids")))
    # no report IDs: hidapi still wants a leading 0x00; 2-bit signed fields hold 1 for on
    assert enc.encode(IndicatorState(off_hook=True)) == [b"\x00\x01"]
    assert enc.encode(IndicatorState(off_hook=True, ringing=True)) == [b"\x00\x05"]
    assert enc.encode(IndicatorState()) == [b"\x00\x00"]


def test_led_level_clamps_to_the_logical_extent():
    # an LED whose extent is 2..3: off writes 2, on writes 3 (never 0 or 1)
    enc = IndicatorEncoder(parse_report_descriptor(bytes.fromhex("0508 0917 1502 2503 7502 9501 9102")))
    assert enc.encode(IndicatorState()) == [b"\x00\x02"]
    assert enc.encode(IndicatorState(off_hook=True)) == [b"\x00\x03"]


def test_led_extent_wider_than_its_bits_is_kept_to_the_bits():
    # found by fuzzing: logical -128..1 in a 1-bit (so signed -1..0) field
    enc = IndicatorEncoder(parse_report_descriptor(bytes.fromhex("0508 1580 2501 7501 9501 0920 9102")))
    assert enc.encode(IndicatorState(on_hold=True)) == [b"\x00\x00"]


def test_pack_report_checks_its_elements():
    d = parse_report_descriptor(load("poly_like"))
    mute_led = d.fields_of(ReportKind.OUTPUT, 0x09)[0]
    assert pack_report(d, ReportKind.OUTPUT, 0x09, [(mute_led, 0, 1)]) == b"\x09\x01"
    with pytest.raises(HidReportError, match=r"element 0 of the field at descriptor byte \d+ is not in "
                                             r"output report 23"):
        pack_report(d, ReportKind.OUTPUT, 0x17, [(mute_led, 0, 1)])
    with pytest.raises(HidReportError, match=r"element 1 of the field"):
        pack_report(d, ReportKind.OUTPUT, 0x09, [(mute_led, 1, 1)])


def test_build_report_refuses_values_that_do_not_fit():
    d = parse_report_descriptor(load("jabra_like"))
    assert build_report(d, ReportKind.OUTPUT, 2, {u.LED_HOLD: 1}) == b"\x02\x08"
    with pytest.raises(HidReportError, match=r"value 2 for usage 0x00080017 does not fit the 1-bit field "
                                             r"at bit 0"):
        build_report(d, ReportKind.OUTPUT, 2, {u.LED_OFF_HOOK: 2})
    with pytest.raises(HidReportError, match=r"no output report with ID 3"):
        build_report(d, ReportKind.OUTPUT, 3, {})


# ---------------------------------------------------------------- the hidapi adapter seam

def test_package_imports_without_hidapi():
    code = ("import sys; import offhook.devices.hid, offhook.devices.hid.adapter; "
            "print('hid' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_adapter_reports_missing_hidapi_as_device_error(monkeypatch):
    from offhook.devices.hid import adapter
    monkeypatch.setitem(sys.modules, "hid", None)  # import hid -> ImportError
    with pytest.raises(DeviceError, match=r"USB headset support needs hidapi: pip install hid"):
        adapter.enumerate_devices()


def test_adapter_moves_bytes_through_a_stand_in_hid_module(monkeypatch):
    # Only the plumbing can be checked here: a stand-in for the `hid` package's interface.
    from offhook.devices.hid import adapter

    class HIDException(Exception):
        pass

    class Device:
        def __init__(self, path):
            self.path, self.written = path, []

        def get_report_descriptor(self, size):
            return load("poly_like")

        def read(self, size, timeout):
            return b"\x08\x02"

        def write(self, data):
            if data[0] == 0xFF:
                raise HIDException("device disconnected")
            self.written.append(data)
            return len(data)

        def close(self):
            pass

    fake = types.SimpleNamespace(HIDException=HIDException, Device=Device, enumerate=lambda vid, pid: [
        {"path": b"/dev/hidraw3", "vendor_id": 0x047F, "product_id": 0xC056, "product_string": "Headset",
         "manufacturer_string": "Poly", "serial_number": "", "usage_page": 0x0B, "usage": 5,
         "interface_number": 3},
        {"path": b"/dev/hidraw4", "vendor_id": 0x047F, "product_id": 0xC056, "usage_page": 0x0C, "usage": 1}])
    monkeypatch.setitem(sys.modules, "hid", fake)
    (info,) = adapter.enumerate_devices()
    assert (info.path, info.usage_page, info.usage, info.product) == (b"/dev/hidraw3", 0x0B, 5, "Headset")
    assert len(adapter.enumerate_devices(usage_page=None)) == 2
    with adapter.open_device(info.path) as dev:
        decoder = TelephonyDecoder(parse_report_descriptor(dev.get_report_descriptor()))
        assert decoder.feed(dev.read()) == [ANSWER]
        for report in IndicatorEncoder(decoder.descriptor).encode(IndicatorState(off_hook=True)):
            assert dev.write(report) == 2
        with pytest.raises(DeviceError, match=r"HID write failed: device disconnected"):
            dev.write(b"\xff\x00")


# ---------------------------------------------------------------- fuzzing

# Item streams that are mostly well formed, so the fuzzer reaches deep parser states.
_prefixes = st.sampled_from([
    0x05, 0x06, 0x07, 0x09, 0x0A, 0x0B, 0x15, 0x16, 0x25, 0x26, 0x75, 0x95, 0x96, 0x85, 0xA4, 0xB4,
    0x19, 0x29, 0x1B, 0x2B, 0xA9, 0x81, 0x91, 0xB1, 0xA1, 0xC0, 0xFE, 0x0C, 0xD0, 0x35, 0x45, 0x55, 0x65,
])
_telephony_items = st.sampled_from([
    (0x05, b"\x0b"), (0x05, b"\x08"), (0x09, b"\x20"), (0x09, b"\x2f"), (0x09, b"\x21"), (0x09, b"\x24"),
    (0x09, b"\x17"), (0x09, b"\x09"), (0x09, b"\x18"), (0x09, b"\x9e"), (0x75, b"\x01"), (0x95, b"\x02"),
    (0x15, b"\xff"), (0x25, b"\x01"), (0x81, b"\x06"), (0x81, b"\x02"), (0x81, b"\x00"), (0x91, b"\x02"),
    (0x85, b"\x01"), (0x85, b"\x02"),
])
_items = st.lists(st.one_of(_telephony_items, st.tuples(_prefixes, st.binary(min_size=0, max_size=4))),
                  max_size=60)
# Whole fields of telephony and LED usages with random shapes: descriptors that parse
# and give the decoder and the encoder something to do.
_field_blocks = st.tuples(
    st.sampled_from([0x0B, 0x08, 0x09]),                                       # usage page
    st.lists(st.sampled_from([0x20, 0x2F, 0x21, 0x24, 0x17, 0x09, 0x18, 0x9E, 0x97]), min_size=1, max_size=4),
    st.sampled_from([1, 2, 4, 8]), st.integers(1, 4),                           # report size, count
    st.sampled_from([0, -1, 1]), st.sampled_from([1, 2, 12]),                   # logical extent
    st.sampled_from([0x81, 0x91, 0xB1]), st.integers(0, 0xFF),                  # main item and flags
    st.integers(1, 3),                                                          # report ID
)


def _blocks_stream(blocks_and_ids):
    blocks, with_ids = blocks_and_ids
    out = bytearray()
    for page, usage_ids, size, count, lmin, lmax, main, flags, report_id in blocks:
        if with_ids:
            out += bytes([0x85, report_id])
        out += bytes([0x05, page, 0x15, lmin & 0xFF, 0x25, lmax, 0x75, size, 0x95, count])
        for usage_id in usage_ids:
            out += bytes([0x09, usage_id])
        out += bytes([main, flags])
    return bytes(out)


_telephony_streams = st.tuples(st.lists(_field_blocks, min_size=1, max_size=8), st.booleans()).map(
    _blocks_stream)


def _stream(items):
    out = bytearray()
    for prefix, data in items:
        size = (0, 1, 2, 4)[prefix & 3]
        if prefix == 0xFE:
            out += bytes([0xFE, len(data), 0x10]) + data
        else:
            out += bytes([prefix]) + (data + bytes(4))[:size]
    return bytes(out)


def _exercise(descriptor, reports):
    for f in descriptor.fields:
        assert f.bit_offset >= 0
        assert f.bit_offset + f.bit_length <= 8 * descriptor.report_length(f.kind, f.report_id)
        assert f.count >= 1 and f.size >= 1
    decoder = TelephonyDecoder(descriptor)
    ids = descriptor.report_ids(ReportKind.INPUT)
    for raw in reports:
        # as read, and with a report ID the descriptor knows so the decoder gets past it
        fixed = raw
        if raw and ids and descriptor.uses_report_ids:
            fixed = bytes([ids[raw[0] % len(ids)]]) + raw[1:]
        for report in (raw, fixed):
            try:
                actions = decoder.feed(report)
            except HidReportError:
                continue
            assert all(isinstance(a, PhoneAction) for a in actions)
    encoder = IndicatorEncoder(descriptor)
    for report in encoder.encode(IndicatorState(True, True, True, True, True)):
        report_id = report[0]
        assert len(report) == 1 + descriptor.report_length(ReportKind.OUTPUT, report_id)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=120), _items.map(_stream), _telephony_streams),
       st.lists(st.binary(max_size=12), max_size=8))
def test_fuzz_parser_and_decoder_only_raise_clear_errors(desc, reports):
    try:
        descriptor = parse_report_descriptor(desc)
    except HidDescriptorError as exc:
        assert str(exc).startswith("HID report descriptor")
        return
    _exercise(descriptor, reports)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIXTURES), st.lists(st.binary(min_size=0, max_size=4), max_size=30))
def test_fuzz_decoder_keeps_hook_and_mute_actions_consistent(name, reports):
    descriptor = parse_report_descriptor(load(name))
    decoder = TelephonyDecoder(descriptor)
    ids = descriptor.report_ids(ReportKind.INPUT)
    off_hook = muted = False
    for raw in reports:
        report = bytes([ids[raw[0] % len(ids)]]) + raw[1:] if raw and descriptor.uses_report_ids else raw
        try:
            actions = decoder.feed(report)
        except HidReportError:
            continue
        for action in actions:
            # answer only from on-hook, hang up only from off-hook, mute only when unmuted...
            if action in (ANSWER, HANG_UP):
                assert off_hook == (action is HANG_UP)
                off_hook = action is ANSWER
            elif action in (MUTE, UNMUTE):
                assert muted == (action is UNMUTE)
                muted = action is MUTE
        assert (decoder.off_hook, decoder.muted) == (off_hook, muted)
        assert len(actions) == len(set(actions))
