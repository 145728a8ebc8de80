"""Contacts: names and numbers, imported from vCard (3.0 and 4.0: FN and TEL) and CSV.

    book = Contacts.load([Path("team.vcf"), Path("friends.csv")])
    book.find("carol")            # Contact("Carol Smith", ("+4930123",)) — exact, then prefix, then substring

vCard: folded lines are unfolded (RFC 6350 §3.2), `TEL;TYPE=cell:+49...`,
`TEL;VALUE=uri:tel:+49...` and `item1.TEL:...` are read; the first FN names the card
(N is used when FN is missing). CSV: a header row with a name column (`name`,
`full name`, `fn`, `display name`) and one or more number columns (`number`,
`phone`, `tel`, `mobile`, `sip`, `uri`... any header holding one of those words).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from offhook.errors import OffhookError

__all__ = ["Contact", "Contacts", "ContactsError", "parse_csv", "parse_vcard"]


class ContactsError(OffhookError, ValueError):
    """A contacts file cannot be read; str() names the file and the line."""


@dataclass(frozen=True)
class Contact:
    name: str
    numbers: tuple[str, ...]

    @property
    def number(self) -> str:
        return self.numbers[0]


def _unescape(value: str) -> str:
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse_vcard(text: str, source: str = "vCard") -> list[Contact]:
    lines: list[str] = []
    for raw in text.splitlines():
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    contacts: list[Contact] = []
    inside = False
    name = structured = ""
    numbers: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        head, colon, value = line.partition(":")
        if not colon:
            raise ContactsError(f"{source}: line {number}: {line[:40]!r} is not 'NAME:value'")
        prop = head.split(";")[0].split(".")[-1].upper()
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            inside, name, structured, numbers = True, "", "", []
        elif prop == "END" and value.strip().upper() == "VCARD":
            if not inside:
                raise ContactsError(f"{source}: line {number}: END:VCARD without BEGIN:VCARD")
            inside = False
            label = name or structured
            if label and numbers:
                contacts.append(Contact(label, tuple(numbers)))
        elif inside and prop == "FN" and not name:
            name = _unescape(value).strip()
        elif inside and prop == "N":
            parts = [_unescape(p).strip() for p in value.split(";")]
            structured = " ".join(p for p in (parts[1:2] + parts[:1]) if p)
        elif inside and prop == "TEL":
            tel = value.strip()
            if tel.lower().startswith("tel:"):
                tel = tel[4:]
            if tel:
                numbers.append(tel)
    if inside:
        raise ContactsError(f"{source}: the last vCard has no END:VCARD")
    return contacts


_NAME_HEADERS = ("name", "full name", "fn", "display name", "display_name")
_NUMBER_WORDS = ("number", "phone", "tel", "mobile", "sip", "uri", "extension")


def parse_csv(text: str, source: str = "CSV") -> list[Contact]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return []
    name_cols = [i for i, h in enumerate(header) if h in _NAME_HEADERS]
    number_cols = [i for i, h in enumerate(header) if any(w in h for w in _NUMBER_WORDS)]
    if not name_cols or not number_cols:
        raise ContactsError(f"{source}: the header row needs a name column ({', '.join(_NAME_HEADERS)}) "
                            f"and a number column (a header with {', '.join(_NUMBER_WORDS)}); got {header}")
    contacts = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        name = row[name_cols[0]].strip() if name_cols[0] < len(row) else ""
        numbers = tuple(row[i].strip() for i in number_cols if i < len(row) and row[i].strip())
        if name and numbers:
            contacts.append(Contact(name, numbers))
    return contacts


class Contacts:
    def __init__(self, contacts: Iterable[Contact] = ()) -> None:
        self.contacts: list[Contact] = list(contacts)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Contacts:
        book = cls()
        for path in paths:
            book.import_file(path)
        return book

    def import_file(self, path: Path) -> int:
        """Add the contacts of a .vcf/.vcard or .csv file; returns how many."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ContactsError(f"cannot read contacts from {path}: {exc}") from None
        suffix = Path(path).suffix.lower()
        if suffix in (".vcf", ".vcard"):
            found = parse_vcard(text, str(path))
        elif suffix == ".csv":
            found = parse_csv(text, str(path))
        else:
            raise ContactsError(f"{path}: contacts files are .vcf, .vcard or .csv")
        self.contacts.extend(found)
        return len(found)

    def find(self, query: str) -> Contact | None:
        """The contact whose name is `query` (case-insensitive), else the only one it starts, else
        the only one containing it; None when nothing or several match the looser rules."""
        q = query.strip().casefold()
        if not q:
            return None
        exact = [c for c in self.contacts if c.name.casefold() == q]
        if exact:
            return exact[0]
        for hits in ([c for c in self.contacts if c.name.casefold().startswith(q)],
                     [c for c in self.contacts if q in c.name.casefold()]):
            if len(hits) == 1:
                return hits[0]
            if hits:
                return None
        return None

    def name_for(self, number: str) -> str | None:
        """Caller-ID lookup: the contact holding this number (digits compared)."""
        digits = re.sub(r"\D", "", number)
        for c in self.contacts:
            if any(n == number or (digits and re.sub(r"\D", "", n) == digits) for n in c.numbers):
                return c.name
        return None

    def __len__(self) -> int:
        return len(self.contacts)
