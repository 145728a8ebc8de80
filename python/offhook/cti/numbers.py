"""Telephone numbers to E.164 (ITU-T E.164, RFC 3966), for matching callers to customers.

A caller shows up as a SIP URI (``sip:+4930123456@pbx;user=phone``), a ``tel:`` URI
(``tel:+1-212-555-0123;ext=42``), a name-addr (``"Bob" <sip:0301234@pbx>``) or whatever an
agent or a CRM export typed (``030 / 123 45-6``, ``+44 (0)20 7946 0018``, ``(212) 555-0123 x42``).
:func:`parse_number` reads all of them into one :class:`PhoneNumber` whose ``e164`` is the
key the directory matches on; :func:`normalize` returns just that key.

How a number without ``+`` is read depends on the *default country* (ISO 3166 alpha-2,
``"DE"``): its international prefixes (``00``, ``011`` in NANP, ``0011`` in Australia...)
introduce a country calling code; otherwise its trunk prefix (``0`` in most of Europe,
``1`` in NANP, ``8`` in Russia, ``06`` in Hungary) is removed and the country's calling
code put in front.  Countries whose numbers keep their leading ``0`` (Italy) or that have
no trunk prefix (Spain, Denmark...) take the digits as they are.

Rules (each refusal is a :class:`offhook.NumberFormatError` saying which rule):
- ``00`` introduces a calling code whatever the default country (CRM exports carry
  ``0049...`` even for American users; no national number starts with ``00``);
- visual separators are ignored: RFC 3966's ``-``, ``.``, ``(``, ``)`` plus spaces and ``/``;
  digits of other scripts (Arabic-Indic, full width) count as digits; letters do not
  (vanity numbers like ``1-800-FLOWERS`` are refused, not guessed);
- ``(0)`` after a ``+`` number (``+49 (0)30 ...``) and a lone trunk ``0`` right after the
  calling code (``+44 020 ...``) are dropped for countries whose numbers never start
  with ``0``;
- an extension is ``;ext=N`` (RFC 3966) or ``x N``, ``ext N``, ``ext. N``, ``extension N``
  at the end (1 to 10 digits); it is kept apart from ``e164``;
- ``phone-context=+...`` on a local ``tel:`` number is put in front of it (RFC 3966 §5.1.5);
  a domain-name context is ignored and the number read in the default country;
- the calling code must be assigned (1, 7, 20, 27... 998); at most 15 digits in all;
  national numbers of the countries in :data:`COUNTRIES` are checked for length, NANP
  numbers for area and exchange codes starting with 2-9;
- anonymous callers (``sip:anonymous@anonymous.invalid``) and SIP URIs whose user part is
  a name (``sip:alice@example.com``) have no number.

Idempotent: ``normalize(normalize(x)) == normalize(x)`` and
``parse_number(p.tel_uri) == p``.  Thread-safe (no state).  Known limits: no per-area
length rules (a German number of 5 to 13 digits passes), no carrier-select prefixes
(Brazil's ``0 xx``), no vanity letters, one default country per call.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

from offhook.errors import CtiConfigError, NumberFormatError

__all__ = [
    "COUNTRIES",
    "Country",
    "PhoneNumber",
    "country",
    "lookup_keys",
    "normalize",
    "parse_number",
]

MAX_INPUT = 256
MAX_E164_DIGITS = 15
MAX_EXTENSION = 10


@dataclass(frozen=True)
class Country:
    """Dialling rules of one country: `calling_code` ("49"), `trunk_prefix` ("0", "" when
    national numbers are dialled as they are), `international_prefixes` (what introduces a
    calling code when dialling from there), the national significant number's length
    range, and whether the trunk prefix may be left out (NANP's ten-digit dialling)."""

    region: str
    calling_code: str
    trunk_prefix: str
    international_prefixes: tuple[str, ...]
    nsn_min: int
    nsn_max: int
    trunk_optional: bool = False


def _c(region: str, cc: str, trunk: str, intl: tuple[str, ...], lo: int, hi: int,
       optional: bool = False) -> Country:
    return Country(region, cc, trunk, intl, lo, hi, optional)


_EU = ("00",)
#: The countries a default country may name.  The first entry of a calling code is the
#: one whose rules apply to ``+cc`` numbers (US for +1, RU for +7).
COUNTRIES: dict[str, Country] = {c.region: c for c in (
    _c("US", "1", "1", ("011",), 10, 10, True),
    _c("CA", "1", "1", ("011",), 10, 10, True),
    _c("GB", "44", "0", _EU, 7, 10),
    _c("IE", "353", "0", _EU, 7, 9),
    _c("DE", "49", "0", _EU, 5, 13),
    _c("AT", "43", "0", _EU, 4, 13),
    _c("CH", "41", "0", _EU, 9, 12),
    _c("FR", "33", "0", _EU, 9, 9),
    _c("BE", "32", "0", _EU, 8, 9),
    _c("NL", "31", "0", _EU, 7, 10),
    _c("LU", "352", "", _EU, 4, 11),
    _c("IT", "39", "", _EU, 6, 11),
    _c("ES", "34", "", _EU, 9, 9),
    _c("PT", "351", "", _EU, 9, 9),
    _c("DK", "45", "", _EU, 8, 8),
    _c("SE", "46", "0", _EU, 6, 10),
    _c("NO", "47", "", _EU, 5, 8),
    _c("FI", "358", "0", ("00", "990", "994", "999"), 5, 12),
    _c("PL", "48", "", _EU, 9, 9),
    _c("CZ", "420", "", _EU, 9, 9),
    _c("SK", "421", "0", _EU, 6, 9),
    _c("HU", "36", "06", _EU, 8, 9),
    _c("GR", "30", "", _EU, 10, 10),
    _c("RO", "40", "0", _EU, 9, 9),
    _c("TR", "90", "0", _EU, 10, 10),
    _c("RU", "7", "8", ("810", "00"), 10, 10),
    _c("UA", "380", "0", _EU, 9, 9),
    _c("IL", "972", "0", ("00", "012", "013", "014"), 8, 9),
    _c("ZA", "27", "0", _EU, 9, 9),
    _c("IN", "91", "0", _EU, 10, 10),
    _c("CN", "86", "0", _EU, 7, 12),
    _c("JP", "81", "0", ("010",), 9, 10),
    _c("KR", "82", "0", ("001", "002"), 7, 11),
    _c("SG", "65", "", ("000", "001", "002", "008"), 8, 8),
    _c("HK", "852", "", ("001",), 8, 9),
    _c("AU", "61", "0", ("0011",), 5, 9),
    _c("NZ", "64", "0", _EU, 8, 10),
    _c("BR", "55", "0", _EU, 10, 11),
    _c("MX", "52", "", _EU, 10, 10),
    _c("AR", "54", "0", _EU, 10, 11),
)}

_BY_CODE: dict[str, Country] = {}
for _country in COUNTRIES.values():
    _BY_CODE.setdefault(_country.calling_code, _country)


def _codes(*spans: str) -> frozenset[str]:
    out: set[str] = set()
    for span in spans:
        if "-" in span:
            lo, hi = span.split("-")
            out.update(str(n) for n in range(int(lo), int(hi) + 1))
        else:
            out.add(span)
    return frozenset(out)


# Assigned country calling codes (ITU-T E.164 annex list); prefix-free, 1 to 3 digits.
_ASSIGNED = _codes(
    "1", "7", "20", "27", "30-34", "36", "39", "40", "41", "43-49", "51-58", "60-66",
    "81", "82", "84", "86", "90-95", "98",
    "211", "212", "213", "216", "218", "220-258", "260-269", "290", "291", "297-299",
    "350-359", "370-378", "380-383", "385-387", "389", "420", "421", "423", "500-509",
    "590-599", "670", "672-683", "685-692", "800", "808", "850", "852", "853", "855",
    "856", "870", "878", "880-883", "886", "888", "960-968", "970-977", "979", "992-996", "998",
)

_SEPARATORS = frozenset("-.()/\u2010\u2011\u2012\u2013\u2014\u2015")
_NON_NUMBERS = frozenset({"anonymous", "unknown", "restricted", "private", "unavailable", "withheld"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_TEXT_EXTENSION = re.compile(r"^(.*?\d.*?)[\s,]*(?:extension|ext\.?|x)\s*(\S+)\s*$", re.IGNORECASE)
_ZERO_IN_PARENS = re.compile(r"\(\s*0\s*\)")


@dataclass(frozen=True)
class PhoneNumber:
    """A telephone number in E.164: ``e164`` ("+4930123456") is the matching key,
    ``calling_code`` ("49") and ``national_number`` ("30123456") its parts, ``extension``
    the digits after ``;ext=`` or ``x`` (None without one).  ``str()`` is ``e164``."""

    e164: str
    calling_code: str
    national_number: str
    extension: str | None = None

    @property
    def tel_uri(self) -> str:
        """RFC 3966 form: ``tel:+4930123456;ext=12``."""
        ext = f";ext={self.extension}" if self.extension else ""
        return f"tel:{self.e164}{ext}"

    @property
    def national(self) -> str:
        """The number as dialled inside its country: trunk prefix + national number
        ("030123456"), or the national number when the country is not in COUNTRIES."""
        country = _BY_CODE.get(self.calling_code)
        return (country.trunk_prefix if country else "") + self.national_number

    def __str__(self) -> str:
        return self.e164


def country(region: str) -> Country:
    """The dialling rules of `region` ("DE"), or CtiConfigError naming the known ones."""
    found = COUNTRIES.get(region.upper()) if isinstance(region, str) else None
    if found is None:
        raise CtiConfigError("default_country", f"unknown country {region!r}; known: "
                             + ", ".join(sorted(COUNTRIES)))
    return found


def normalize(text: str, default_country: str = "US") -> str:
    """The E.164 form of `text` ("+4930123456"), extension dropped; NumberFormatError when
    it is not a telephone number."""
    return parse_number(text, default_country).e164


def parse_number(text: str, default_country: str = "US") -> PhoneNumber:
    """Read `text` (a number as typed, a ``sip:``/``sips:``/``tel:`` URI or a name-addr)
    as a :class:`PhoneNumber`.  Numbers without ``+`` are read as dialled in
    `default_country`.  Raises NumberFormatError (a ValueError) and nothing else for any
    string; CtiConfigError for an unknown `default_country`."""
    home = country(default_country)
    if not isinstance(text, str):
        raise NumberFormatError(repr(text), f"expected a string, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise NumberFormatError(text, "it is empty")
    if len(s) > MAX_INPUT:
        raise NumberFormatError(text, f"longer than {MAX_INPUT} characters")
    if "<" in s or ">" in s:
        m = re.search(r"<([^<>]*)>", s)
        if m is None:
            raise NumberFormatError(text, "unbalanced '<' '>' around the URI")
        s = m.group(1).strip()
    scheme_match = _SCHEME.match(s)
    from_sip = False
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        rest = s[scheme_match.end():]
        if scheme in ("sip", "sips"):
            if "@" not in rest:
                raise NumberFormatError(text, "the SIP URI has no user part (nothing before '@')")
            s = unquote(rest.rsplit("@", 1)[0]).split(":", 1)[0].strip()
            from_sip = True
        elif scheme == "tel":
            s = unquote(rest).strip()
        else:
            raise NumberFormatError(
                text, f"unsupported URI scheme {scheme!r} (sip:, sips: and tel: are understood)")
    number_part, params = _split_params(text, s)
    if number_part.strip().lower() in _NON_NUMBERS:
        raise NumberFormatError(text, f"the caller is {number_part.strip().lower()} (no number given)")
    if from_sip and number_part and not any(ch.isdecimal() for ch in number_part):
        raise NumberFormatError(text, f"the SIP user {number_part!r} is a name, not a number")

    extension = params.get("ext")
    m = _TEXT_EXTENSION.match(number_part)
    if m:
        if extension is not None:
            raise NumberFormatError(text, "it has two extensions")
        number_part, extension = m.group(1), m.group(2)
    if extension is not None:
        extension = _digits_only(text, extension, "extension")
        if not 1 <= len(extension) <= MAX_EXTENSION:
            raise NumberFormatError(text, f"an extension has 1 to {MAX_EXTENSION} digits")

    number_part = number_part.strip()
    context = params.get("phone-context", "")
    if not number_part.startswith("+") and context.startswith("+"):
        number_part = context + " " + number_part
    if number_part.startswith("+"):
        number_part = _ZERO_IN_PARENS.sub("", number_part)
        digits = _digits(text, number_part[1:])
        return _international(text, digits, extension)
    digits = _digits(text, number_part)
    for prefix in sorted({*home.international_prefixes, "00"}, key=len, reverse=True):
        if digits.startswith(prefix):
            return _international(text, digits[len(prefix):], extension)
    if home.trunk_prefix and digits.startswith(home.trunk_prefix):
        nsn = digits[len(home.trunk_prefix):]
    elif not home.trunk_prefix or home.trunk_optional:
        nsn = digits
    else:
        raise NumberFormatError(
            text, f"a number dialled in {home.region} starts with + or an international prefix "
            f"({', '.join(home.international_prefixes)}) or the trunk prefix {home.trunk_prefix} "
            "and an area code")
    if not nsn:
        raise NumberFormatError(text, "there is no number after the trunk prefix")
    return _international(text, home.calling_code + nsn, extension)


def lookup_keys(number: PhoneNumber) -> tuple[str, ...]:
    """The spellings a directory may have stored `number` under, E.164 first:
    "+4930123", "4930123", "004930123", "030123" (national with trunk prefix)."""
    digits = number.e164[1:]
    keys = [number.e164, digits, "00" + digits, "011" + digits, number.national]
    if number.calling_code == "1":
        keys.append(number.national_number)
    return tuple(dict.fromkeys(keys))


def _split_params(text: str, s: str) -> tuple[str, dict[str, str]]:
    """Split ``number;ext=1;phone-context=+49`` into the number and lower-cased params."""
    number_part, *raw = s.split(";")
    params: dict[str, str] = {}
    for item in raw:
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if name in params and name in ("ext", "phone-context"):
            raise NumberFormatError(text, f"parameter {name!r} is given twice")
        params[name] = value.strip()
    return number_part, params


def _digits_only(text: str, s: str, what: str) -> str:
    out = []
    for ch in s:
        if not ch.isdecimal():
            raise NumberFormatError(text, f"the {what} {s!r} has a non-digit {ch!r}")
        out.append(str(unicodedata.decimal(ch)))
    return "".join(out)


def _digits(text: str, s: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(s):
        if ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif ch in _SEPARATORS or ch.isspace():
            continue
        elif ch == "+":
            raise NumberFormatError(text, "'+' may only start the number")
        elif ch.isalpha():
            raise NumberFormatError(text, f"letter {ch!r} in the number (vanity numbers are not read)")
        else:
            raise NumberFormatError(text, f"unexpected character {ch!r} at position {i}")
    if not out:
        raise NumberFormatError(text, "it has no digits")
    return "".join(out)


def _international(text: str, digits: str, extension: str | None) -> PhoneNumber:
    """`digits` = calling code + national number (the part after + or 00)."""
    if not digits:
        raise NumberFormatError(text, "there is no number after the international prefix")
    cc = next((digits[:n] for n in (1, 2, 3) if digits[:n] in _ASSIGNED), None)
    if cc is None:
        raise NumberFormatError(text, f"+{digits[:3]} does not start with an assigned country calling code")
    nsn = digits[len(cc):]
    home = _BY_CODE.get(cc)
    if home is not None and home.trunk_prefix == "0":
        if nsn.startswith("0"):
            nsn = nsn[1:]  # "+44 020 ...": the national trunk 0 written after the code
        if nsn.startswith("0"):
            raise NumberFormatError(text, f"a number in +{cc} does not start with 0 after the country code")
    if len(cc) + len(nsn) > MAX_E164_DIGITS:
        raise NumberFormatError(text, f"an E.164 number has at most {MAX_E164_DIGITS} digits, "
                                f"+{cc}{nsn} has {len(cc) + len(nsn)}")
    lo, hi = (home.nsn_min, home.nsn_max) if home else (4, MAX_E164_DIGITS - len(cc))
    if not lo <= len(nsn) <= hi:
        span = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise NumberFormatError(text, f"a number in +{cc} has {span} digits after the country code, "
                                f"{nsn or 'nothing'} has {len(nsn)}")
    if cc == "1" and (nsn[0] in "01" or nsn[3] in "01"):
        raise NumberFormatError(text, "NANP area and exchange codes start with 2-9")
    return PhoneNumber(f"+{cc}{nsn}", cc, nsn, extension)
