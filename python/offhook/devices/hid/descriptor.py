"""HID report descriptor parser (Device Class Definition for HID 1.11, §6.2.2), sans I/O.

A report descriptor is a byte string of items.  Short items (§6.2.2.2) are a prefix
byte -- bSize in bits 0-1 (0, 1, 2 or 4 data bytes), bType in bits 2-3 (main, global,
local), bTag in bits 4-7 -- followed by little-endian data.  Long items (§6.2.2.3,
prefix 0xFE, then bDataSize and bLongItemTag) carry no standard meaning and are skipped.

The parser walks the items with the item state table of §6.2.2.4..§6.2.2.8: global
items (usage page, logical extent, report size/count/ID) persist and can be saved
and restored with Push/Pop; local items (usages) apply to the next main item only.
Every Input, Output and Feature item becomes a :class:`ReportField` placed at a bit
offset inside its report (counted after the report ID byte), so a report can be read
and written without knowing the device.

Choices where the specification leaves room:

- A 1- or 2-byte Usage takes the Usage Page in force when it is declared (§6.2.2.7),
  yet §6.2.2.8 says the parser "concatenates the last declared Usage Page with a
  Usage" at the main item.  Linux reconciles the two, and so does this parser: at the
  main item, walking back from the last usage, each usage not on the current page
  is moved to it, stopping at the first one already there.  So ``09 07 05 09 81 02``
  is Button 7, while ``05 01 09 30 05 02 09 BA 81 02`` keeps X on Generic Desktop.
  A 4-byte Usage is an extended usage that names its own page.  Usages are kept as
  extended 32-bit values ``page << 16 | id`` throughout.
- Logical Maximum is read as unsigned when Logical Minimum is not negative (the
  common ``15 00 25 FF`` means 0..255), as signed otherwise -- what Linux does.
- Usage Minimum/Maximum ranges stay ranges (a keyboard's 0..0xFFFF array is not
  expanded); a variable field with fewer usages than elements repeats the last one
  (§6.2.2.8).
- Within a Delimiter set only the first usage counts (alternative usages are
  ignored, as Linux does).

Limits (bad or hostile descriptors raise :class:`HidDescriptorError` naming the byte
offset, never anything else): the descriptor is at most 4096 bytes (hidapi's and
Linux's buffer), a report size at most 256 bits and a report count at most 12288 (Linux
hid-core's HID_MAX_USAGES), a report at most 16384 data bytes, Push at most 16 deep,
collections at most 32 deep.  Report ID 0 is reserved (§6.2.2.7); once any Report ID
appears, every data field must follow one.
"""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from offhook.errors import HidDescriptorError, HidReportError

__all__ = [
    "MAX_COLLECTION_DEPTH",
    "MAX_DESCRIPTOR_BYTES",
    "MAX_PUSH_DEPTH",
    "MAX_REPORT_BYTES",
    "MAX_REPORT_COUNT",
    "MAX_REPORT_SIZE",
    "Collection",
    "MainFlags",
    "ReportDescriptor",
    "ReportField",
    "ReportKind",
    "parse_report_descriptor",
]

MAX_DESCRIPTOR_BYTES = 4096
MAX_REPORT_SIZE = 256
MAX_REPORT_COUNT = 12288
MAX_REPORT_BYTES = 16384
MAX_PUSH_DEPTH = 16
MAX_COLLECTION_DEPTH = 32

_TYPE_MAIN, _TYPE_GLOBAL, _TYPE_LOCAL, _TYPE_RESERVED = 0, 1, 2, 3
_LONG_ITEM_PREFIX = 0xFE


class ReportKind(enum.Enum):
    """The direction of a report: Input (device to host), Output, Feature."""

    INPUT = "input"
    OUTPUT = "output"
    FEATURE = "feature"


_MAIN_KIND = {0x8: ReportKind.INPUT, 0x9: ReportKind.OUTPUT, 0xB: ReportKind.FEATURE}


class MainFlags(enum.IntFlag):
    """Data bits of an Input/Output/Feature item (§6.2.2.5); a clear bit means the
    first alternative (Data, Array, Absolute, No Wrap...)."""

    CONSTANT = 0x001
    VARIABLE = 0x002
    RELATIVE = 0x004
    WRAP = 0x008
    NONLINEAR = 0x010
    NO_PREFERRED_STATE = 0x020
    NULL_STATE = 0x040
    VOLATILE = 0x080
    BUFFERED_BYTES = 0x100


@dataclass(frozen=True)
class Collection:
    """A Collection item: `type` 0 physical, 1 application, 2 logical, 3 report,
    4 named array, 5 usage switch, 6 usage modifier (0x80..0xFF vendor), `usage`
    its extended usage (0 when none was given), `offset` its byte offset."""

    type: int
    usage: int
    offset: int

    APPLICATION = 1


@dataclass(frozen=True)
class ReportField:
    """One Input, Output or Feature item: `count` elements of `size` bits each,
    starting `bit_offset` bits after the report ID byte of report `report_id`
    (0 when the descriptor uses no report IDs).

    `usage_ranges` are inclusive ranges of extended usages (``page << 16 | id``) in
    declaration order; `collections` the enclosing collections, outermost first.
    """

    kind: ReportKind
    report_id: int
    bit_offset: int
    size: int
    count: int
    flags: MainFlags
    logical_minimum: int
    logical_maximum: int
    usage_ranges: tuple[tuple[int, int], ...]
    collections: tuple[Collection, ...]
    offset: int

    @property
    def is_constant(self) -> bool:
        return bool(self.flags & MainFlags.CONSTANT)

    @property
    def is_variable(self) -> bool:
        return bool(self.flags & MainFlags.VARIABLE)

    @property
    def is_relative(self) -> bool:
        return bool(self.flags & MainFlags.RELATIVE)

    @property
    def is_signed(self) -> bool:
        """Elements are two's complement when the logical extent goes below zero."""
        return self.logical_minimum < 0

    @property
    def value_range(self) -> tuple[int, int]:
        """The smallest and largest value an element's `size` bits can hold."""
        if self.is_signed:
            return -(1 << (self.size - 1)), (1 << (self.size - 1)) - 1
        return 0, (1 << self.size) - 1

    @property
    def bit_length(self) -> int:
        return self.size * self.count

    @property
    def usage_count(self) -> int:
        return sum(last - first + 1 for first, last in self.usage_ranges)

    @property
    def application(self) -> int | None:
        """The usage of the outermost application collection holding this field."""
        for collection in self.collections:
            if collection.type == Collection.APPLICATION:
                return collection.usage
        return None

    def _nth_usage(self, index: int) -> int:
        for first, last in self.usage_ranges:
            span = last - first + 1
            if index < span:
                return first + index
            index -= span
        raise IndexError(index)  # callers check usage_count first

    def usage(self, index: int) -> int | None:
        """The usage of element `index` of a variable field (the last usage repeats
        for elements beyond the usage list), None when the field has no usages."""
        if not 0 <= index < self.count:
            raise IndexError(f"element {index} is outside a field of {self.count} elements")
        total = self.usage_count
        if total == 0:
            return None
        return self._nth_usage(min(index, total - 1))

    def usage_for_value(self, value: int) -> int | None:
        """The usage an array element's `value` selects (value - logical minimum
        indexes the usage list); None for a null or out-of-range value."""
        if value < self.logical_minimum or value > self.logical_maximum:
            return None
        index = value - self.logical_minimum
        if index >= self.usage_count:
            return None
        return self._nth_usage(index)

    def covers(self, usage: int) -> bool:
        """Whether `usage` is one of this field's usages."""
        return any(first <= usage <= last for first, last in self.usage_ranges)


class ReportDescriptor:
    """A parsed report descriptor: its fields, and the report IDs and lengths per kind."""

    __slots__ = ("_bits", "collections", "fields", "raw", "uses_report_ids")

    def __init__(self, raw: bytes, fields: tuple[ReportField, ...], collections: tuple[Collection, ...],
                 uses_report_ids: bool, bits: dict[tuple[ReportKind, int], int]) -> None:
        self.raw = raw
        self.fields = fields
        self.collections = collections
        self.uses_report_ids = uses_report_ids
        self._bits = bits

    def __repr__(self) -> str:
        return (f"ReportDescriptor({len(self.raw)} bytes, {len(self.fields)} fields, "
                f"report IDs {'used' if self.uses_report_ids else 'unused'})")

    @property
    def applications(self) -> tuple[int, ...]:
        """Usages of the top-level application collections (how hidapi lists interfaces)."""
        return tuple(c.usage for c in self.collections if c.type == Collection.APPLICATION)

    def report_ids(self, kind: ReportKind) -> tuple[int, ...]:
        """The report IDs that have `kind` reports, ascending (just (0,) without IDs)."""
        return tuple(sorted(rid for k, rid in self._bits if k is kind))

    def fields_of(self, kind: ReportKind, report_id: int) -> tuple[ReportField, ...]:
        return tuple(f for f in self.fields if f.kind is kind and f.report_id == report_id)

    def report_length(self, kind: ReportKind, report_id: int) -> int:
        """Data bytes of a report, not counting the report ID byte."""
        bits = self._bits.get((kind, report_id))
        if bits is None:
            known = ", ".join(str(r) for r in self.report_ids(kind)) or "none"
            raise HidReportError(f"the descriptor defines no {kind.value} report with ID {report_id} "
                                 f"(its {kind.value} report IDs: {known})")
        return (bits + 7) // 8


@dataclass
class _Globals:
    usage_page: int = 0
    logical_minimum: int = 0
    logical_maximum_raw: int = 0
    logical_maximum_bytes: int = 0
    report_size: int = 0
    report_count: int = 0
    report_id: int | None = None

    def copy(self) -> _Globals:
        return _Globals(self.usage_page, self.logical_minimum, self.logical_maximum_raw,
                        self.logical_maximum_bytes, self.report_size, self.report_count, self.report_id)

    def logical_maximum(self) -> int:
        if self.logical_minimum < 0 and self.logical_maximum_bytes:
            return _signed(self.logical_maximum_raw, self.logical_maximum_bytes)
        return self.logical_maximum_raw


# A local usage as declared: (value, extended, page in force) -- extended when given in
# 4 bytes, then `value` holds its page already.
_Usage = tuple[int, bool, int]


@dataclass
class _Locals:
    usages: list[tuple[_Usage, _Usage]]
    minimum: _Usage | None = None
    maximum: _Usage | None = None
    delimiter_depth: int = 0
    delimiter_sets: int = 0


def _signed(value: int, nbytes: int) -> int:
    bits = 8 * nbytes
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _iter_items(data: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield (offset, type, tag, data size in bytes, unsigned data) for each short item."""
    pos = 0
    end = len(data)
    while pos < end:
        prefix = data[pos]
        if prefix == _LONG_ITEM_PREFIX:
            if pos + 3 > end:
                raise HidDescriptorError("long item header is truncated", pos)
            size = data[pos + 1]
            if pos + 3 + size > end:
                raise HidDescriptorError(f"long item declares {size} data bytes but only "
                                         f"{end - pos - 3} remain", pos)
            pos += 3 + size
            continue
        size = (0, 1, 2, 4)[prefix & 0x3]
        if pos + 1 + size > end:
            raise HidDescriptorError(f"item 0x{prefix:02X} needs {size} data bytes but only "
                                     f"{end - pos - 1} remain (truncated descriptor)", pos)
        value = int.from_bytes(data[pos + 1:pos + 1 + size], "little")
        yield pos, (prefix >> 2) & 0x3, prefix >> 4, size, value
        pos += 1 + size


def _extended(usage: _Usage, page: int) -> int:
    value, extended, _declared_page = usage
    return value if extended else (page << 16) | value


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.globals = _Globals()
        self.stack: list[_Globals] = []
        self.locals = _Locals([])
        self.open: list[Collection] = []
        self.collections: list[Collection] = []
        self.fields: list[ReportField] = []
        self.bits: dict[tuple[ReportKind, int], int] = {}
        self.first_unnumbered: int | None = None  # offset of a data item before any Report ID
        self.report_ids_seen = False

    def parse(self) -> ReportDescriptor:
        for offset, kind, tag, size, value in _iter_items(self.data):
            if kind == _TYPE_MAIN:
                self.main(offset, tag, value)
            elif kind == _TYPE_GLOBAL:
                self.global_item(offset, tag, size, value)
            elif kind == _TYPE_LOCAL:
                self.local_item(offset, tag, size, value)
            else:
                raise HidDescriptorError(f"item 0x{self.data[offset]:02X} has the reserved type 3", offset)
        if self.open:
            raise HidDescriptorError(f"the collection opened at byte {self.open[-1].offset} is never closed")
        if self.report_ids_seen and self.first_unnumbered is not None:
            raise HidDescriptorError("a data item comes before the first Report ID although the "
                                     "descriptor uses report IDs", self.first_unnumbered)
        return ReportDescriptor(bytes(self.data), tuple(self.fields), tuple(self.collections),
                                self.report_ids_seen, dict(self.bits))

    def global_item(self, offset: int, tag: int, size: int, value: int) -> None:
        g = self.globals
        if tag == 0x0:  # Usage Page
            if value > 0xFFFF:
                raise HidDescriptorError(f"Usage Page 0x{value:X} does not fit 16 bits", offset)
            g.usage_page = value
        elif tag == 0x1:  # Logical Minimum
            g.logical_minimum = _signed(value, size) if size else 0
        elif tag == 0x2:  # Logical Maximum
            g.logical_maximum_raw, g.logical_maximum_bytes = value, size
        elif tag in (0x3, 0x4, 0x5, 0x6):  # physical extent, unit exponent, unit: not needed here
            pass
        elif tag == 0x7:  # Report Size
            if value > MAX_REPORT_SIZE:
                raise HidDescriptorError(f"Report Size {value} bits exceeds the limit of "
                                         f"{MAX_REPORT_SIZE}", offset)
            g.report_size = value
        elif tag == 0x8:  # Report ID
            if value == 0 or value > 0xFF:
                raise HidDescriptorError(f"Report ID {value} is invalid (1..255; 0 is reserved)", offset)
            g.report_id = value
            self.report_ids_seen = True
        elif tag == 0x9:  # Report Count
            if value > MAX_REPORT_COUNT:
                raise HidDescriptorError(f"Report Count {value} exceeds the limit of "
                                         f"{MAX_REPORT_COUNT}", offset)
            g.report_count = value
        elif tag == 0xA:  # Push
            if len(self.stack) >= MAX_PUSH_DEPTH:
                raise HidDescriptorError(f"Push nests deeper than {MAX_PUSH_DEPTH}", offset)
            self.stack.append(g.copy())
        elif tag == 0xB:  # Pop
            if not self.stack:
                raise HidDescriptorError("Pop without a matching Push", offset)
            self.globals = self.stack.pop()
        else:
            raise HidDescriptorError(f"global item tag 0x{tag:X} is reserved", offset)

    def local_item(self, offset: int, tag: int, size: int, value: int) -> None:
        loc = self.locals
        usage: _Usage = (value, size == 4, self.globals.usage_page)
        if tag == 0xA:  # Delimiter
            if value == 1:
                if loc.delimiter_depth:
                    raise HidDescriptorError("Delimiter sets cannot nest", offset)
                loc.delimiter_depth = 1
                loc.delimiter_sets += 1
            elif value == 0:
                if not loc.delimiter_depth:
                    raise HidDescriptorError("Delimiter close without an open", offset)
                loc.delimiter_depth = 0
            else:
                raise HidDescriptorError(f"Delimiter value {value} is neither 0 (close) nor 1 (open)", offset)
            return
        if tag in (0x0, 0x1, 0x2) and loc.delimiter_depth and loc.delimiter_sets > 1:
            return  # an alternative usage (§6.2.2.8 Delimiter): the first set wins
        if tag == 0x0:  # Usage
            loc.usages.append((usage, usage))
        elif tag == 0x1:  # Usage Minimum
            if loc.minimum is not None:
                raise HidDescriptorError("Usage Minimum repeated before its Usage Maximum", offset)
            loc.minimum = usage
            self._close_range(offset)
        elif tag == 0x2:  # Usage Maximum
            if loc.maximum is not None:
                raise HidDescriptorError("Usage Maximum repeated before its Usage Minimum", offset)
            loc.maximum = usage
            self._close_range(offset)
        elif tag in (0x3, 0x4, 0x5, 0x7, 0x8, 0x9):  # designators and strings: not needed here
            pass
        else:
            raise HidDescriptorError(f"local item tag 0x{tag:X} is reserved", offset)

    def _close_range(self, offset: int) -> None:
        loc = self.locals
        if loc.minimum is not None and loc.maximum is not None:
            loc.usages.append((loc.minimum, loc.maximum))
            loc.minimum = loc.maximum = None

    def _resolve_usages(self, offset: int) -> tuple[tuple[int, int], ...]:
        loc = self.locals
        if loc.minimum is not None or loc.maximum is not None:
            missing = "Maximum" if loc.minimum is not None else "Minimum"
            raise HidDescriptorError(f"Usage Minimum/Maximum pair lacks its Usage {missing}", offset)
        if loc.delimiter_depth:
            raise HidDescriptorError("a Delimiter set is still open at a main item", offset)
        current = self.globals.usage_page
        pages = [low[2] for low, _high in loc.usages]
        for index in range(len(loc.usages) - 1, -1, -1):  # the §6.2.2.7/§6.2.2.8 reconciliation
            low, high = loc.usages[index]
            if low[1] and high[1]:
                continue
            if pages[index] == current:
                break
            pages[index] = current
        ranges = []
        for (low, high), page in zip(loc.usages, pages, strict=True):
            first, last = _extended(low, page), _extended(high, page)
            if first >> 16 != last >> 16:
                raise HidDescriptorError(f"Usage Minimum 0x{first:08X} and Usage Maximum 0x{last:08X} "
                                         "are on different usage pages", offset)
            if last < first:
                raise HidDescriptorError(f"Usage Maximum 0x{last:08X} is below Usage Minimum "
                                         f"0x{first:08X}", offset)
            ranges.append((first, last))
        return tuple(ranges)

    def main(self, offset: int, tag: int, value: int) -> None:
        if tag == 0xA:  # Collection
            if len(self.open) >= MAX_COLLECTION_DEPTH:
                raise HidDescriptorError(f"collections nest deeper than {MAX_COLLECTION_DEPTH}", offset)
            ranges = self._resolve_usages(offset)
            collection = Collection(value & 0xFF, ranges[0][0] if ranges else 0, offset)
            self.open.append(collection)
            self.collections.append(collection)
        elif tag == 0xC:  # End Collection
            if not self.open:
                raise HidDescriptorError("End Collection without an open collection", offset)
            self.open.pop()
        elif tag in _MAIN_KIND:
            self.data_item(offset, _MAIN_KIND[tag], value)
        else:
            raise HidDescriptorError(f"main item tag 0x{tag:X} is reserved", offset)
        self.locals = _Locals([])

    def data_item(self, offset: int, kind: ReportKind, value: int) -> None:
        g = self.globals
        ranges = self._resolve_usages(offset)
        flags = MainFlags(value & 0x1FF)
        if g.report_id is None:
            if self.first_unnumbered is None:
                self.first_unnumbered = offset
            report_id = 0
        else:
            report_id = g.report_id
        key = (kind, report_id)
        start = self.bits.get(key, 0)
        length = g.report_size * g.report_count
        if start + length > 8 * MAX_REPORT_BYTES:
            raise HidDescriptorError(f"{kind.value} report {report_id} grows past {MAX_REPORT_BYTES} "
                                     "bytes", offset)
        self.bits[key] = start + length
        if length == 0:
            return
        minimum, maximum = g.logical_minimum, g.logical_maximum()
        if not flags & MainFlags.CONSTANT and maximum < minimum:
            raise HidDescriptorError(f"Logical Maximum {maximum} is below Logical Minimum {minimum}", offset)
        self.fields.append(ReportField(kind, report_id, start, g.report_size, g.report_count, flags,
                                       minimum, maximum, ranges, tuple(self.open), offset))


def parse_report_descriptor(data: bytes | bytearray | memoryview) -> ReportDescriptor:
    """Parse a HID report descriptor (as hidapi's get_report_descriptor returns it).

    Raises :class:`HidDescriptorError` (a ValueError) for a malformed descriptor.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a report descriptor is bytes, not {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise HidDescriptorError("the descriptor is empty")
    if len(raw) > MAX_DESCRIPTOR_BYTES:
        raise HidDescriptorError(f"{len(raw)} bytes exceed the limit of {MAX_DESCRIPTOR_BYTES}")
    return _Parser(raw).parse()
