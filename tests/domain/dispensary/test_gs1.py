"""Reading a medicine pack's GS1 DataMatrix, as a scanner types it or a person copies it."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import ean

from app.core.errors import DomainError
from app.domain.dispensary.gs1 import GS, element_string, parse_pack_code

GTIN = "09506000134352"  # GS1's own example GTIN-14 (valid check digit)


def test_scanner_output_with_symbology_identifier_and_fnc1() -> None:
    code = parse_pack_code(f"]d201{GTIN}17261231" + f"10AB-123{GS}21SN42")
    assert (code.gtin, code.expiry, code.batch, code.serial) == (GTIN, date(2026, 12, 31), "AB-123", "SN42")
    assert code.separated


def test_human_readable_text_typed_from_under_the_symbol() -> None:
    code = parse_pack_code(f"(01){GTIN}(17)270430(10)L0T9(21)XYZ")
    assert (code.gtin, code.expiry, code.batch, code.serial) == (GTIN, date(2027, 4, 30), "L0T9", "XYZ")


def test_day_00_means_the_last_day_of_the_month() -> None:
    assert parse_pack_code(f"01{GTIN}1728020010B1").expiry == date(2028, 2, 29)


def test_a_typed_group_separator_and_spaces_between_fields_are_accepted() -> None:
    code = parse_pack_code(f"  01 {GTIN} 17 261231 10 AB1{{GS}}21 S1\n")
    assert (code.batch, code.serial) == ("AB1", "S1")


def test_wrong_gtin_check_digit_is_refused_on_the_scan_field() -> None:
    with pytest.raises(DomainError) as exc:
        parse_pack_code("]d2010950600013435317261231")
    assert exc.value.field == "scan"
    assert "check digit" in exc.value.message


@pytest.mark.parametrize("text, words", [
    ("", "Scan"),
    ("hello", "Not a medicine pack"),
    (f"01{GTIN}17261331", "not a real date"),  # month 13
    (f"01{GTIN}17260231", "not a real date"),  # 31 February
    ("1726123110AB", "no GTIN"),
    ("x" * 300, "too long"),
    ("]", "Not a medicine pack"),  # a symbology identifier cut short
    ("]d", "no GTIN"),
    ("(01)", "Not a medicine pack"),
    ("\x1d", "no GTIN"),
    ("(17)991399", "not a real date"),
    ("1" * 500, "too long"),
])
def test_bad_codes_get_a_clear_refusal(text: str, words: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_pack_code(text)
    assert exc.value.field == "scan"
    assert words in exc.value.message


gtins = st.from_regex(r"\A[0-9]{13}\Z").map(lambda body: body + ean.calc_check_digit(body))
cset82 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./",
                 min_size=1, max_size=20)


@given(gtins, st.dates(date(2000, 1, 1), date(2049, 12, 31)), cset82, st.one_of(st.none(), cset82),
       st.booleans())
def test_what_we_print_we_read_back(gtin: str, expiry: date, batch: str, serial: str | None,
                                    symbology: bool) -> None:
    code = parse_pack_code(element_string(gtin, expiry, batch, serial, symbology=symbology))
    assert (code.gtin, code.expiry, code.batch, code.serial) == (gtin, expiry, batch, serial)


# What a scanner, a keyboard or a paste can put in the field: GS1-ish characters (digits,
# parentheses, the "]d2" prefix, separators and their aliases) as well as any text at all.
scanner_noise = st.one_of(
    st.text(),
    st.text(alphabet="0123456789()]dCQeE\x1d{}GS<>[]~|\\x-./ A", max_size=60),
    st.lists(st.sampled_from(["]d2", "]", "(01)", "(17)", "(10)", "(21)", "01", "17", "10", "21",
                              GS, "{GS}", GTIN, "991399", "261231", "00", "AB"]),
             max_size=8).map("".join),
)


@settings(max_examples=500)
@given(scanner_noise)
@example("]")
@example("]d")
@example("(01)")
@example(GS)
@example("(17)991399")
@example("9" * 500)
def test_anything_typed_is_read_or_refused_on_the_scan_field(text: str) -> None:
    try:
        code = parse_pack_code(text)
    except DomainError as exc:
        assert exc.field == "scan" and exc.status_code == 422
    else:
        assert len(code.gtin) == 14 and code.gtin.isdigit()
