"""Barcodes as SVG: the right bars, the right size, and a real scanner reads them back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from barcode import Code128
from weasyprint import HTML

from app.core import barcodes
from app.core.pdf import svg_data_uri
from tests import pdf_tools

MRN = "10000074"


def _bars(svg: str) -> list[tuple[float, float]]:
    """(x, width) of each bar in the path."""
    d = re.search(r'<path fill="black" d="([^"]+)"', svg)
    assert d is not None
    return [(float(x), float(w)) for x, w in re.findall(r"M([\d.]+) [\d.]+h([\d.]+)", d.group(1))]


def _printed(*svgs: str) -> bytes:
    """The symbols printed on a page, as a label would carry them."""
    images = "".join(f'<p><img src="{svg_data_uri(s)}"></p>' for s in svgs)
    return bytes(HTML(string=f"<style>@page {{ size: 120mm 120mm }}</style>{images}").write_pdf())


def test_code128_draws_the_library_bars_with_quiet_zones_and_the_text() -> None:
    svg = barcodes.code128_svg(MRN, module_width=0.5, bar_height=10)
    assert svg.startswith("<svg ") and "<?xml" not in svg
    modules = Code128(MRN).build()[0]
    assert len(_bars(svg)) == len(re.findall("1+", modules))  # one bar per run of dark modules
    first_x, _ = _bars(svg)[0]
    assert first_x == pytest.approx(10 * 0.5)  # a 10-module quiet zone before the first bar
    width = re.search(r'width="([\d.]+)mm"', svg)
    assert width is not None
    assert float(width.group(1)) == pytest.approx((len(modules) + 20) * 0.5, abs=0.001)
    assert barcodes.code128_modules(MRN) == len(modules) + 20
    assert f">{MRN}</text>" in svg


def test_code128_without_text_and_with_markup_in_the_data() -> None:
    assert "<text" not in barcodes.code128_svg(MRN, human_readable=False)
    assert ">S&lt;1&amp;2</text>" in barcodes.code128_svg("S<1&2")


def test_code128_is_deterministic_and_digits_use_code_set_c() -> None:
    assert barcodes.code128_svg(MRN) == barcodes.code128_svg(MRN)
    # Code set C packs two digits per symbol: 8 digits are start + 4 + check + stop.
    assert barcodes.code128_modules(MRN) == 11 + 4 * 11 + 11 + 13 + 20


@pytest.mark.parametrize("value", ["", "王秀英", "Müller"])
def test_code128_refuses_what_it_cannot_encode(value: str) -> None:
    with pytest.raises(ValueError):
        barcodes.code128_svg(value)


def test_module_width_fits_the_space_or_refuses() -> None:
    assert barcodes.code128_module_width(MRN, 45.0) == 0.45
    assert barcodes.code128_module_width(MRN, 200.0) == 0.5  # never wider than asked
    with pytest.raises(ValueError, match="does not fit"):
        barcodes.code128_module_width(MRN, 15.0)


def test_datamatrix_is_sized_in_modules_and_deterministic() -> None:
    svg = barcodes.datamatrix_svg(MRN, module_size=0.75)
    assert svg.startswith("<svg ") and "<?xml" not in svg
    modules = barcodes.datamatrix_modules(MRN)
    assert modules == 14  # 12 x 12 symbol plus its one-module quiet zone
    assert f'viewBox="0 0 {modules} {modules}"' in svg
    assert f'width="{modules * 0.75:.3f}mm"' in svg
    assert re.search(r'<path d="M1,1\.5 [hm0-9,-]+"', svg)
    assert svg == barcodes.datamatrix_svg(MRN, module_size=0.75)
    assert svg != barcodes.datamatrix_svg("10000082", module_size=0.75)


def test_datamatrix_refuses_non_ascii() -> None:
    with pytest.raises(ValueError):
        barcodes.datamatrix_svg("王")


@pytest.mark.parametrize("value", [MRN, "S24-000123"])
def test_a_scanner_reads_both_symbols_back(value: Any) -> None:
    pdf = _printed(barcodes.code128_svg(value, module_width=0.33),
                   barcodes.datamatrix_svg(value, module_size=0.6))
    assert pdf_tools.barcodes(pdf) == {("Code128", value), ("DataMatrix", value)}
