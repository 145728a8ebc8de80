"""E.164 normalisation of caller numbers (offhook.cti.numbers)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook import CtiConfigError, NumberFormatError
from offhook.cti.numbers import COUNTRIES, PhoneNumber, lookup_keys, normalize, parse_number


@pytest.mark.parametrize(("text", "country", "e164", "ext"), [
    # SIP and tel URIs, name-addrs
    ("sip:+4930123456@pbx.example;user=phone", "US", "+4930123456", None),
    ("sips:+44-20-7946-0018@host", "US", "+442079460018", None),
    ('"Bob Smith" <sip:0301234567@10.0.0.1:5060;transport=udp>', "DE", "+49301234567", None),
    ("<tel:+1-212-555-0123;ext=42>", "DE", "+12125550123", "42"),
    ("TEL:+33 1 23 45 67 89", "US", "+33123456789", None),
    ("sip:%2B4930123456@pbx", "US", "+4930123456", None),
    ("sip:+4930123456;ext=7@pbx;user=phone", "US", "+4930123456", "7"),
    ("tel:7042;phone-context=+1-212-555", "DE", "+12125557042", None),
    ("tel:0301234567;phone-context=example.com", "DE", "+49301234567", None),
    # national formats, trunk prefixes
    ("030 / 123 45-6", "DE", "+4930123456", None),
    ("(030) 1234567", "DE", "+49301234567", None),
    ("020 7946 0018", "GB", "+442079460018", None),
    ("01 23 45 67 89", "FR", "+33123456789", None),
    ("06 1 234 5678", "HU", "+3612345678", None),
    ("8 812 123-45-67", "RU", "+78121234567", None),
    ("06 12345678", "IT", "+390612345678", None),       # Italy keeps its 0
    ("912 345 678", "ES", "+34912345678", None),        # no trunk prefix
    ("(212) 555-0123", "US", "+12125550123", None),
    ("1-212-555-0123", "US", "+12125550123", None),
    ("212.555.0123", "CA", "+12125550123", None),
    # international prefixes
    ("011 49 30 1234567", "US", "+49301234567", None),
    ("0049 30 1234567", "US", "+49301234567", None),    # 00 understood everywhere
    ("0011 61 2 9876 5432", "AU", "+61298765432", None),
    ("010-44-20-7946-0018", "JP", "+442079460018", None),
    ("810 49 30 1234567", "RU", "+49301234567", None),
    # the (0) and +cc0 habits
    ("+44 (0)20 7946 0018", "US", "+442079460018", None),
    ("+49 (0) 30 123456", "US", "+4930123456", None),
    ("+44 020 7946 0018", "US", "+442079460018", None),
    ("+39 06 1234 5678", "US", "+390612345678", None),  # Italy: the 0 is part of the number
    # extensions
    ("(212) 555-0123 x42", "US", "+12125550123", "42"),
    ("+44 20 7946 0018 ext. 12", "US", "+442079460018", "12"),
    ("030 1234567 extension 99", "DE", "+49301234567", "99"),
    ("+1 212 555 0123;ext=1234", "US", "+12125550123", "1234"),
    # separators and digits of other scripts
    ("+49\u00a030\u2009123\u2013456", "US", "+4930123456", None),
    ("+\u0664\u0669 \u0663\u0660 \u0661\u0662\u0663\u0664\u0665\u0666", "US", "+4930123456", None),
    ("+\uff14\uff19\uff13\uff10\uff11\uff12\uff13\uff14\uff15\uff16", "US", "+4930123456", None),
    ("  +4930123456  ", "de", "+4930123456", None),
    ("+979 123456789", "US", "+979123456789", None),    # assigned, not in the table
])
def test_numbers_are_read_to_e164(text, country, e164, ext):
    number = parse_number(text, country)
    assert number.e164 == e164
    assert number.extension == ext
    assert str(number) == e164
    assert normalize(text, country) == e164
    assert number.calling_code + number.national_number == e164[1:]


@pytest.mark.parametrize(("text", "country", "reason"), [
    ("", "US", "it is empty"),
    ("   ", "US", "it is empty"),
    ("-- () --", "US", "it has no digits"),
    ("1-800-FLOWERS", "US", "letter 'F' in the number (vanity numbers are not read)"),
    ("+49 30 12+34", "US", "'+' may only start the number"),
    ("+49 30 1234*5", "US", "unexpected character '*' at position 10"),
    ("30123456", "DE", "a number dialled in DE starts with + or an international prefix (00) "
                       "or the trunk prefix 0 and an area code"),
    ("0", "DE", "there is no number after the trunk prefix"),
    ("00", "DE", "there is no number after the international prefix"),
    ("+999 1234", "US", "+999 does not start with an assigned country calling code"),
    ("+1 212 555 01", "US", "a number in +1 has 10 digits after the country code, 21255501 has 8"),
    ("+1 112 555 0123", "US", "NANP area and exchange codes start with 2-9"),
    ("555-0123", "US", "a number in +1 has 10 digits after the country code, 5550123 has 7"),
    ("+44 00 7946 0018", "US", "a number in +44 does not start with 0 after the country code"),
    ("+979 1234567890123", "US", "an E.164 number has at most 15 digits, +9791234567890123 has 16"),
    ("sip:anonymous@anonymous.invalid", "US", "the caller is anonymous (no number given)"),
    ('"Anonymous" <sip:Restricted@pbx>', "US", "the caller is restricted (no number given)"),
    ("sip:alice@example.com", "US", "the SIP user 'alice' is a name, not a number"),
    ("sip:pbx.example.com", "US", "the SIP URI has no user part (nothing before '@')"),
    ("mailto:bob@example.com", "US", "unsupported URI scheme 'mailto' (sip:, sips: and tel: are understood)"),
    ("<sip:+4930123@host", "US", "unbalanced '<' '>' around the URI"),
    ("tel:+4930123456;ext=1;ext=2", "US", "parameter 'ext' is given twice"),
    ("tel:+4930123456 x34;ext=12", "US", "it has two extensions"),
    ("+4930123456 x12345678901", "US", "an extension has 1 to 10 digits"),
    ("+4930123456 ext a1", "US", "the extension 'a1' has a non-digit 'a'"),
    ("+" + "1" * 300, "US", "longer than 256 characters"),
])
def test_garbage_is_a_clear_number_format_error(text, country, reason):
    with pytest.raises(NumberFormatError) as info:
        parse_number(text, country)
    assert info.value.reason == reason
    assert str(info.value) == f"cannot read {text[:80]!r} as a telephone number: {reason}"
    assert isinstance(info.value, ValueError)


def test_not_a_string_is_a_number_format_error():
    with pytest.raises(NumberFormatError, match="expected a string, got int"):
        parse_number(4930123456)  # type: ignore[arg-type]


def test_unknown_default_country_names_the_known_ones():
    with pytest.raises(CtiConfigError) as info:
        parse_number("+4930123456", "XX")
    assert info.value.where == "default_country"
    assert str(info.value).startswith("default_country: unknown country 'XX'; known: AR, AT, AU, BE")


def test_national_and_lookup_keys_spell_the_number_as_directories_store_it():
    de = parse_number("+49 30 123456")
    assert de.national == "030123456"
    assert lookup_keys(de) == ("+4930123456", "4930123456", "004930123456", "0114930123456", "030123456")
    us = parse_number("(212) 555-0123")
    assert us.national == "12125550123"
    assert lookup_keys(us)[-1] == "2125550123"
    assert parse_number("+979 123456789").national == "979123456789"[3:]


def test_tel_uri_round_trip():
    number = parse_number("(212) 555-0123 x42", "US")
    assert number.tel_uri == "tel:+12125550123;ext=42"
    assert parse_number(number.tel_uri, "DE") == number
    assert parse_number("+4930123456").tel_uri == "tel:+4930123456"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60), st.sampled_from(sorted(COUNTRIES)))
def test_any_text_reads_or_fails_cleanly_and_output_is_fixed_point(text, country):
    try:
        number = parse_number(text, country)
    except NumberFormatError as exc:
        assert exc.reason
        return
    assert number.e164.startswith("+") and number.e164[1:].isdigit() and len(number.e164) <= 16
    for other in ("US", "DE", country):
        assert normalize(number.e164, other) == number.e164
        assert parse_number(number.tel_uri, other) == number


_SEPARATOR = st.sampled_from(["", " ", "-", ".", " / ", "(", ")", "\u00a0"])


@st.composite
def _written_numbers(draw):
    """A valid number of a table country, written the way people write it."""
    country = COUNTRIES[draw(st.sampled_from(sorted(COUNTRIES)))]
    length = draw(st.integers(country.nsn_min, min(country.nsn_max, 15 - len(country.calling_code))))
    first = draw(st.sampled_from("23456789"))
    rest = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    if country.calling_code == "1":
        rest = rest[:2] + draw(st.sampled_from("23456789")) + rest[3:]
    nsn = first + rest
    style = draw(st.sampled_from(["plus", "00", "national", "sip", "tel"]))
    cut = draw(st.integers(0, len(nsn)))
    body = nsn[:cut] + draw(_SEPARATOR) + nsn[cut:]
    if style == "plus":
        text = f"+{country.calling_code}{draw(_SEPARATOR)}{body}"
    elif style == "00":
        text = f"00{country.calling_code} {body}"
    elif style == "national":
        text = f"{country.trunk_prefix}{body}"
    elif style == "sip":
        text = f"<sip:+{country.calling_code}{nsn}@pbx.example;user=phone>"
    else:
        text = f"tel:+{country.calling_code}-{body.strip()}"
    return text, country.region, f"+{country.calling_code}{nsn}"


@settings(max_examples=300, deadline=None)
@given(_written_numbers())
def test_written_numbers_normalise_to_their_e164(case):
    text, country, expected = case
    assert normalize(text, country) == expected
    assert normalize(expected, "US") == expected


def test_phone_number_is_a_value():
    assert parse_number("+4930123456") == PhoneNumber("+4930123456", "49", "30123456")
    assert len({parse_number("+4930123456"), parse_number("030 123456", "DE")}) == 1
