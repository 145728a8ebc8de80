"""Reading and writing HID reports with a parsed descriptor, sans I/O.

Report bytes are as hidapi hands them over: when the descriptor uses report IDs the
first byte is the ID, otherwise the data starts at once.  Reports written go out with
an ID byte always (0x00 when the device uses no IDs), which is what hidapi's write()
expects.  Fields follow each other from the least significant bit of the first byte
and values are little-endian (HID 1.11 §5.8, §8.4), so a field's value is a slice of
the data read as one little-endian integer.

A report longer than its descriptor says is accepted and the excess ignored (Windows
pads every report to the longest one); a shorter one is refused.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from offhook.devices.hid.descriptor import ReportDescriptor, ReportField, ReportKind
from offhook.errors import HidReportError

__all__ = ["build_report", "field_values", "pack_report", "read_bits", "split_report", "usage_values"]


def read_bits(data: bytes, bit_offset: int, size: int) -> int:
    """The unsigned `size`-bit value at `bit_offset` of `data` (LSB-first packing)."""
    if bit_offset < 0 or size < 0 or bit_offset + size > 8 * len(data):
        raise HidReportError(f"bits {bit_offset}..{bit_offset + size - 1} lie outside "
                             f"{len(data)} bytes of report data")
    first = bit_offset // 8
    last = (bit_offset + size + 7) // 8
    return (int.from_bytes(data[first:last], "little") >> (bit_offset % 8)) & ((1 << size) - 1)


def field_values(field: ReportField, data: bytes) -> list[int]:
    """The `count` element values of `field` in report `data` (without the ID byte),
    sign-extended when the field's logical minimum is negative."""
    raw = read_bits(data, field.bit_offset, field.bit_length)
    mask = (1 << field.size) - 1
    sign = 1 << (field.size - 1)
    values = []
    for i in range(field.count):
        value = (raw >> (i * field.size)) & mask
        if field.is_signed and value & sign:
            value -= 1 << field.size
        values.append(value)
    return values


def split_report(descriptor: ReportDescriptor, kind: ReportKind, report: bytes) -> tuple[int, bytes]:
    """Split a report as read from the device into (report ID, data), checking that
    the descriptor defines it and that it is long enough."""
    if not isinstance(report, (bytes, bytearray)):
        raise TypeError(f"a report is bytes, not {type(report).__name__}")
    if descriptor.uses_report_ids:
        if not report:
            raise HidReportError(f"empty {kind.value} report: a report ID byte was expected")
        report_id, data = report[0], bytes(report[1:])
    else:
        report_id, data = 0, bytes(report)
    need = descriptor.report_length(kind, report_id)
    if len(data) < need:
        raise HidReportError(f"{kind.value} report {report_id} has {len(data)} data bytes; "
                             f"its descriptor needs {need}")
    return report_id, data


def usage_values(descriptor: ReportDescriptor, report: bytes, usages: Collection[int],
                 kind: ReportKind = ReportKind.INPUT) -> tuple[int, dict[int, int]]:
    """The values the report carries for the wanted `usages` (extended usages).

    A variable element gives its value; an array field covering a usage gives 1 when
    the usage is among the array's entries and 0 when it is not.  Usages the report
    does not carry are absent from the result.  Constant fields are skipped.
    """
    report_id, data = split_report(descriptor, kind, report)
    found: dict[int, int] = {}
    for field in descriptor.fields_of(kind, report_id):
        if field.is_constant:
            continue
        values = field_values(field, data)
        if field.is_variable:
            for index, value in enumerate(values):
                usage = field.usage(index)
                if usage is not None and usage in usages and not found.get(usage):
                    found[usage] = value
        else:
            selected = {field.usage_for_value(v) for v in values}
            for usage in usages:
                if field.covers(usage) and not found.get(usage):
                    found[usage] = int(usage in selected)
    return report_id, found


def pack_report(descriptor: ReportDescriptor, kind: ReportKind, report_id: int,
                elements: Iterable[tuple[ReportField, int, int]]) -> bytes:
    """A report with each (field, element index, value) of `elements` set and every
    other bit zero; the ID byte comes first (0x00 when the descriptor uses no report
    IDs), ready for hidapi's write()."""
    length = descriptor.report_length(kind, report_id)
    packed = 0
    for field, index, value in elements:
        if field.kind is not kind or field.report_id != report_id or not 0 <= index < field.count:
            raise HidReportError(f"element {index} of the field at descriptor byte {field.offset} is not "
                                 f"in {kind.value} report {report_id}")
        low, high = field.value_range
        if not low <= value <= high:
            usage = field.usage(index)
            name = f"usage 0x{usage:08X}" if usage is not None else f"element {index}"
            raise HidReportError(f"value {value} for {name} does not fit the "
                                 f"{field.size}-bit field at bit {field.bit_offset}")
        packed |= (value & ((1 << field.size) - 1)) << (field.bit_offset + index * field.size)
    return bytes([report_id]) + packed.to_bytes(length, "little")


def build_report(descriptor: ReportDescriptor, kind: ReportKind, report_id: int,
                 values: Mapping[int, int]) -> bytes:
    """An Output or Feature report with the variable elements whose usage is in
    `values` set to that value and every other bit zero; the ID byte comes first
    (0x00 when the descriptor uses no report IDs), ready for hidapi's write()."""
    descriptor.report_length(kind, report_id)  # an unknown report fails here, not silently
    elements = []
    for field in descriptor.fields_of(kind, report_id):
        if field.is_constant or not field.is_variable:
            continue
        for index in range(field.count):
            usage = field.usage(index)
            if usage is not None and usage in values:
                elements.append((field, index, values[usage]))
    return pack_report(descriptor, kind, report_id, elements)
