"""What the user typed -> the URI to call: a URI, user@host, a speed-dial key, a number or a contact name.

Order: a sip:/sips: URI is taken as it is; tel:NUMBER and numbers (digits with
+ * # and the usual separators) become sip:NUMBER@<account domain>; user@host gets
"sip:"; a speed-dial key is replaced by its entry (which may itself be a number or
a name); a contact name by the contact's first number; any other plain word is a
user at the account's domain.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from offhook.errors import OffhookError
from offhook.phone.contacts import Contacts

__all__ = ["DialError", "resolve_target"]

_NUMBER = re.compile(r"\+?[0-9*#][0-9*#\s().\-]*\Z")
_USER = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]+\Z")


class DialError(OffhookError, ValueError):
    """What was dialled cannot be turned into a SIP URI."""


def resolve_target(text: str, *, domain: str | None, speed_dial: Mapping[str, str] | None = None,
                   contacts: Contacts | None = None, _depth: int = 0) -> str:
    target = text.strip()
    if not target:
        raise DialError("nothing to dial")
    if _depth > 3:
        raise DialError(f"speed dial/contact entries refer to each other in a loop at {text!r}")
    lowered = target.lower()
    if lowered.startswith(("sip:", "sips:")):
        return target
    if speed_dial and target in speed_dial:
        return resolve_target(speed_dial[target], domain=domain, speed_dial=None, contacts=contacts,
                              _depth=_depth + 1)
    if lowered.startswith("tel:"):
        target = target[4:]
    if _NUMBER.match(target):
        digits = re.sub(r"[\s().\-]", "", target)
        if domain is None:
            raise DialError(f"cannot dial the number {text!r} without an account (no domain to send it to)")
        return f"sip:{digits}@{domain}"
    if "@" in target and " " not in target:
        return f"sip:{target}"
    if contacts is not None:
        contact = contacts.find(target)
        if contact is not None:
            return resolve_target(contact.number, domain=domain, speed_dial=None, contacts=None,
                                  _depth=_depth + 1)
    if _USER.match(target) and domain is not None:
        return f"sip:{target}@{domain}"
    raise DialError(f"{text!r} is not a URI, number, speed-dial key or known contact")
