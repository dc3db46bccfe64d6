"""Label geometry follows the configured stock: a label, a wristband strip, a tall stock."""

from __future__ import annotations

import pytest

from app.core import barcodes
from app.domain.printing.layout import (
    ACCENT_ROOM,
    FACTS_GAP,
    LINE_HEIGHT,
    MIN_NAME_PT,
    PT_TO_MM,
    label_layout,
    name_size,
)

MRN = "10000074"


def test_a_62_by_29_label_is_compact_and_everything_fits() -> None:
    layout = label_layout("62mm 29mm", MRN, "NGUYỄN, Thị Mai")
    assert (layout.strip, layout.rotated) == (False, False)
    assert (layout.box_w, layout.box_h) == (62.0, 29.0)
    inner_w = layout.box_w - 2 * layout.padding
    code_w = barcodes.code128_modules(MRN) * layout.code128_module
    assert code_w <= inner_w
    assert layout.text_w + layout.datamatrix_size <= inner_w
    # DataMatrix and text on top, bars and MRN below: no overlap in height.
    assert layout.datamatrix_size + layout.code128_height + 4.5 <= layout.box_h - 2 * layout.padding
    assert layout.code128_height >= 8  # tall enough to scan with a hand-held scanner
    assert "@page { size: 62mm 29mm; margin: 0; }" in layout.stylesheet()


def test_a_wristband_strip_is_laid_out_in_one_row() -> None:
    layout = label_layout("250mm 25mm", MRN, "王, 秀英")
    assert (layout.strip, layout.rotated) == (True, False)
    inner_w = layout.box_w - 2 * layout.padding
    code_w = barcodes.code128_modules(MRN) * layout.code128_module
    assert layout.code128_width == pytest.approx(code_w)
    assert layout.text_w + code_w + layout.datamatrix_size < inner_w
    assert layout.datamatrix_size <= layout.box_h - 2 * layout.padding
    assert "flex-direction: column" in layout.stylesheet()


def test_a_tall_stock_is_drawn_along_its_length_and_turned() -> None:
    layout = label_layout("25mm 250mm", MRN, "DOE, Jane")
    assert (layout.rotated, layout.strip) == (True, True)
    assert (layout.page_w, layout.page_h) == (25.0, 250.0)
    assert (layout.box_w, layout.box_h) == (250.0, 25.0)
    css = layout.stylesheet()
    assert "@page { size: 25mm 250mm;" in css
    assert "transform: translate(25mm, 0) rotate(90deg)" in css


def test_a_stock_too_small_for_the_barcode_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        label_layout("20mm 10mm", MRN, "DOE, Jane")


def test_long_names_get_smaller_type_but_stay_readable() -> None:
    short = name_size("DOE, Jane", 60, 8, 9.5)
    long = name_size("WOLFESCHLEGELSTEINHAUSENBERGERDORFF, Hubert Blaine Wolfe", 60, 8, 9.5)
    absurd = name_size("X" * 400, 60, 8, 9.5)
    assert short == (9.5, 1)
    assert MIN_NAME_PT < long[0] < short[0] and long[1] == 2  # smaller type, on two lines
    assert absurd[0] == MIN_NAME_PT  # then cut, never unreadable


def test_cjk_characters_count_as_wide() -> None:
    assert name_size("王" * 20, 40, 5, 20)[0] < name_size("i" * 20, 40, 5, 20)[0]


@pytest.mark.parametrize("size", ["62mm 29mm", "50mm 25mm", "250mm 25mm", "25mm 250mm"])
@pytest.mark.parametrize("name", ["DOE, Jane", "NGUYỄN, Thị Mai", "王, 秀英",
                                  "WOLFESCHLEGELSTEINHAUSENBERGERDORFF, Hubert Blaine Wolfe"])
def test_the_date_of_birth_line_always_has_room_below_the_name(size: str, name: str) -> None:
    layout = label_layout(size, MRN, name)
    name_h = (layout.name_lines * LINE_HEIGHT + ACCENT_ROOM) * layout.name_pt * PT_TO_MM
    facts_h = layout.facts_pt * LINE_HEIGHT * PT_TO_MM + FACTS_GAP
    assert name_h + facts_h <= layout.text_h + 0.01
    assert f"padding-top: {ACCENT_ROOM:g}em" in layout.stylesheet()  # stacked accents not clipped
