"""GS1 DataMatrix codes on medicine packs: (01) GTIN-14, (17) expiry, (10) batch, (21) serial.

A code arrives three ways: from a scanner acting as a keyboard (raw element strings, variable
length fields ended by FNC1 sent as GS 0x1D, often behind the "]d2" symbology identifier),
typed from the human-readable text under the symbol ("(01)09501101020917(17)261231(10)AB12"),
or pasted. The parsing itself is biip's (GS1 General Specifications: AI table, CSET 82, the
century rule and DD=00 meaning the month's last day); this module turns its answer into what
dispensing checks, or a DomainError on the scan field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from biip import ParseError, parse
from biip.gs1_messages import GS1Message

from app.core.errors import DomainError

GS = "\x1d"
# What a keyboard-wedge scanner or a person may send for the FNC1 separator: browsers drop
# the control character itself unless dispense.js catches it, so scanners are often set to
# send one of these instead. None of them can occur inside a GS1 field (CSET 82).
GS_ALIASES = ("{GS}", "<GS>", "[GS]", "\\x1d", "~", "|")
MAX_LENGTH = 200


@dataclass(frozen=True)
class PackCode:
    gtin: str  # GTIN-14, check digit verified
    expiry: date | None
    batch: str | None
    serial: str | None
    separated: bool  # the code carried FNC1 separators (so a batch never swallowed a serial)


def _normalise(text: str) -> str:
    value = text.strip(" \t\r\n")
    for alias in GS_ALIASES:
        value = value.replace(alias, GS)
    # People type spaces between fields; no GS1 field may contain one.
    return value.replace(" ", "")


def _unreadable(detail: str, field: str) -> DomainError:
    # biip's messages quote its regular expressions: say it in the pharmacist's words instead.
    if "(17)" in detail:
        return DomainError("Not a medicine pack code: its expiry (17) is not a real date.",
                           field=field)
    return DomainError("Not a medicine pack code: scan the pack's DataMatrix again, or type the "
                       "text printed under it.", field=field)


def parse_pack_code(text: str, field: str = "scan") -> PackCode:
    """The pack's GTIN, expiry, batch and serial from a scanned or typed GS1 code.

    Raises DomainError(field=field) for anything that is not a GS1 code with a valid GTIN."""
    value = _normalise(text or "")
    if not value:
        raise DomainError("Scan the pack's DataMatrix code, or type the text printed under it.",
                          field=field)
    if len(value) > MAX_LENGTH:
        raise DomainError("That is too long to be a pack's code.", field=field)
    message: GS1Message | None
    try:
        if value.startswith("("):
            message = GS1Message.parse_hri(value)
        else:
            result = parse(value)
            message = result.gs1_message
            if message is None:
                raise _unreadable(result.gs1_message_error or "", field)
    except ParseError as exc:
        raise _unreadable(str(exc), field) from exc
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        # biip trips over some fragments (a lone "]", a symbology identifier cut short) with
        # a plain Python error rather than its own: still just an unreadable code.
        raise _unreadable("", field) from exc

    fields = {e.ai.ai: e for e in message.element_strings}
    gtin_element = fields.get("01")
    if gtin_element is None:
        raise DomainError("The code has no GTIN (01): scan the pack's DataMatrix, not another "
                          "barcode.", field=field)
    if gtin_element.gtin_error or gtin_element.gtin is None:
        raise DomainError(f"The GTIN {gtin_element.value} has a wrong check digit: scan again "
                          "or check the typing.", field=field)
    expiry_element = fields.get("17")
    if expiry_element is not None and expiry_element.date is None:
        raise DomainError(f"The expiry {expiry_element.value} is not a date.", field=field)
    batch = fields.get("10")
    serial = fields.get("21")
    return PackCode(
        gtin=gtin_element.value,
        expiry=expiry_element.date if expiry_element is not None else None,
        batch=batch.value if batch is not None else None,
        serial=serial.value if serial is not None else None,
        separated=GS in value or value.startswith("("),
    )


def element_string(gtin: str, expiry: date | None = None, batch: str | None = None,
                   serial: str | None = None, *, symbology: bool = True) -> str:
    """The raw data of a pack's DataMatrix (what a scanner sends), for tests, demo packs and the
    benchmark: fixed-length fields first, GS after each variable-length field but the last."""
    parts = [f"01{gtin}"]
    if expiry is not None:
        parts.append(f"17{expiry:%y%m%d}")
    variable = [f"10{batch}"] if batch else []
    if serial:
        variable.append(f"21{serial}")
    return ("]d2" if symbology else "") + "".join(parts) + GS.join(variable)
