"""Pure rules about patient identity."""

from __future__ import annotations

from app.core.identifiers import luhn_valid, with_luhn

MRN_SERIAL_START = 1_000_000  # seven-digit serials, so every MRN has eight digits
SEXES = ("female", "male", "other", "unknown")  # FHIR AdministrativeGender


def make_mrn(serial: int) -> str:
    return with_luhn(serial)


def mrn_problem(value: str) -> str | None:
    """Why `value` is not an MRN we issue, or None. Checked on every entry, so a mistyped
    digit is caught before it finds the wrong patient."""
    value = value.strip()
    if not value.isdigit():
        return "An MRN has digits only."
    if len(value) != 8:
        return "An MRN has 8 digits."
    if not luhn_valid(value):
        return "That MRN's check digit is wrong: re-read the number."
    return None


def display_name(family: str, given: str) -> str:
    return f"{family.upper()}, {given}"
