"""Barcodes as SVG: the right bars, the right size, and a real scanner reads them back."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from barcode import Code128
from weasyprint import HTML

from app.core import barcodes
from app.core.pdf import svg_data_uri, svg_from_data_uri
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


# --- both symbols as one image -----------------------------------------------------------------

def test_composed_symbols_keep_their_size_and_are_placed_in_millimetres() -> None:
    code = barcodes.code128_svg(MRN, module_width=0.33, bar_height=8, human_readable=False)
    matrix = barcodes.datamatrix_svg(MRN, module_size=0.5)
    svg = barcodes.compose_svg(62, 29, [(code, 1.5, 18.0), (matrix, 53.5, 1.5)])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="62.000mm" height="29.000mm">')
    assert '<svg x="1.500mm" y="18.000mm" xmlns=' in svg and '<svg x="53.500mm" y="1.500mm" ' in svg
    assert code.removeprefix("<svg ") in svg and matrix.removeprefix("<svg ") in svg
    assert svg_from_data_uri(svg_data_uri(svg)) == svg
    with pytest.raises(ValueError):
        svg_from_data_uri("data:text/plain;base64,aGk=")
    pdf = bytes(HTML(string=f'<style>@page {{ size: 62mm 29mm; margin: 0 }} body {{ margin: 0 }}</style>'
                            f'<img src="{svg_data_uri(svg)}">').write_pdf())
    assert pdf_tools.barcodes(pdf) == {("Code128", MRN), ("DataMatrix", MRN)}


# The wristband's symbols as two images in their own boxes, as an ID label still draws them.
TWO_IMAGES = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><div class="label {{ 'strip' if layout.strip else 'compact' }}"><div class="text">
<div class="name">{{ patient.name }}</div><div class="facts">DOB 2 Jan 1990 · Female</div></div>
<div class="code128"><img src="{{ code128 }}"><div class="mrn">MRN {{ patient.mrn }}</div></div>
<div class="datamatrix"><img src="{{ datamatrix }}"></div></div></body></html>"""


@pytest.mark.parametrize("size", ["62mm 29mm", "250mm 25mm", "25mm 250mm"])
def test_the_wristband_prints_its_one_image_exactly_as_two_would(app: Any, monkeypatch: Any, size: str) -> None:
    from datetime import date
    from types import SimpleNamespace

    from jinja2 import ChoiceLoader, DictLoader

    from app.core import pdf
    from app.domain.printing.layout import label_layout

    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader(
        [DictLoader({"print/two_images.html": TWO_IMAGES}), app.jinja_env.loader]))
    patient = SimpleNamespace(mrn=MRN, name="NGUYỄN, Thị Mai", sex="female", birth_date=date(1990, 1, 2))
    layout = label_layout(size, MRN, patient.name)
    context = {"stylesheets": ("print/label.css",), "css": (layout.stylesheet(),), "patient": patient,
               "layout": layout, "sex": "Female",
               "code128": svg_data_uri(barcodes.code128_svg(
                   MRN, module_width=layout.code128_module, bar_height=layout.code128_height,
                   human_readable=False)),
               "datamatrix": svg_data_uri(barcodes.datamatrix_svg(MRN, module_size=layout.datamatrix_module))}
    with app.app_context():
        one = pdf.render_pdf("wristband.html", **context)
        two = pdf.render_pdf("two_images.html", **context)
    assert _pixels(one) == _pixels(two)
    assert pdf_tools.barcodes(one, dpi=200) == {("Code128", MRN), ("DataMatrix", MRN)}


def _pixels(pdf: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "label.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "300", "-gray", "-singlefile", str(source),
                        str(Path(folder) / "page")], check=True)
        return (Path(folder) / "page.pgm").read_bytes()
