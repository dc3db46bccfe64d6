"""Barcodes drawn as SVG by libraries, ready to inline in a printed template.

- Code 128 (ISO/IEC 15417) by python-barcode: what every ward and lab scanner reads.
- DataMatrix (ISO/IEC 16022, ECC 200) by ppf-datamatrix: small enough for a label's corner
  and read from any angle, so a curved wristband still scans.

Sizes are physical (millimetres), because a scanner cares about the width of a bar, not about
the page: a template places the symbol, it never stretches it. Each symbol carries its quiet zone
(10 modules for Code 128, 1 module for DataMatrix) inside its own white background.
Code 128 also comes as a one-pixel-high PNG (`code128_png_data_uri`) for sheets that repeat it.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

from barcode import Code128
from barcode.errors import BarcodeError
from barcode.writer import BaseWriter
from PIL import Image
from ppf.datamatrix import DataMatrix

CODE128_QUIET_ZONE_MODULES = 10
# Below about 0.19 mm (7.5 mil) a bar is thinner than most label printers can print cleanly.
MIN_MODULE_WIDTH_MM = 0.19
_MM_PER_PT = 25.4 / 72

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_DATAMATRIX_SIZE = re.compile(r'height="(\d+)px" width="(\d+)px" style="background-color:#FFF"')


def _strip_declaration(svg: str) -> str:
    return _XML_DECLARATION.sub("", svg, count=1)


def _code128(data: str, writer: BaseWriter | None = None) -> Code128:
    if not data:
        raise ValueError("Nothing to encode.")
    try:
        # A new instance each time: python-barcode keeps encoder state on the instance.
        return Code128(data, writer=writer or _PathSVGWriter())
    except BarcodeError as exc:
        raise ValueError(f"Code 128 cannot encode {data!r}: {exc}") from exc


def code128_modules(data: str) -> int:
    """The symbol's width in modules, quiet zones included."""
    return len(_code128(data).build()[0]) + 2 * CODE128_QUIET_ZONE_MODULES


def code128_module_width(data: str, available_mm: float, maximum_mm: float = 0.5) -> float:
    """The widest module (to 0.01 mm, at most `maximum_mm`) with which `data` fits.

    Raises ValueError when even the thinnest printable bar would not fit."""
    width = min(maximum_mm, int(available_mm / code128_modules(data) * 100) / 100)
    if width < MIN_MODULE_WIDTH_MM:
        raise ValueError(f"{data!r} does not fit in {available_mm:.1f} mm as Code 128.")
    return width


class _PathSVGWriter(BaseWriter):
    """python-barcode's drawing (bar positions, widths, quiet zone, text placement), serialised
    as one <path> in a millimetre viewBox.

    The library's own SVGWriter emits one <rect> per bar with "mm" on every coordinate, which
    WeasyPrint resolves attribute by attribute; one path of plain numbers draws the same bars in
    a fraction of the time, and a label is printed on every admission."""

    def __init__(self) -> None:
        super().__init__(self._start, self._paint_bar, self._paint_text, self._finish)
        self._bars: list[str] = []
        self._texts: list[tuple[float, float, str]] = []
        self._size = (0.0, 0.0)

    def _start(self, code: list[str]) -> None:
        self._bars, self._texts = [], []
        self._size = self.calculate_size(len(code[0]), 1)

    def _paint_bar(self, xpos: float, ypos: float, width: float, color: str) -> None:
        if color != self.background:
            self._bars.append(f"M{xpos:.3f} {ypos:.3f}h{width:.3f}v{self.module_height:.3f}"
                              f"h{-width:.3f}z")

    def _paint_text(self, xpos: float, ypos: float) -> None:
        self._texts.append((xpos, ypos, self.human or self.text))

    def _finish(self) -> str:
        width, height = self._size
        text = "".join(
            f'<text x="{x:.3f}" y="{y:.3f}" font-size="{self.font_size * _MM_PER_PT:.3f}" '
            f'text-anchor="middle" font-family="DejaVu Sans Mono, monospace">{escape(t)}</text>'
            for x, y, t in self._texts
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.3f}mm" height="{height:.3f}mm" '
            f'viewBox="0 0 {width:.3f} {height:.3f}">'
            f'<rect width="{width:.3f}" height="{height:.3f}" fill="{self.background}"/>'
            f'<path fill="{self.foreground}" d="{"".join(self._bars)}"/>{text}</svg>'
        )


def code128_svg(
    data: str,
    *,
    module_width: float = 0.33,
    bar_height: float = 10.0,
    human_readable: bool = True,
    font_size: float = 8.0,
) -> str:
    """Code 128 for `data` as SVG markup (no XML declaration), sized in millimetres.

    python-barcode switches between code sets A, B and C itself, so an all-digit MRN is
    encoded two digits per symbol. With `human_readable` the text is printed under the bars."""
    options = {
        "module_width": module_width,
        "module_height": bar_height,
        "quiet_zone": CODE128_QUIET_ZONE_MODULES * module_width,
        "write_text": human_readable,
        "font_size": font_size,
        "text_distance": font_size * _MM_PER_PT + 0.5,  # the text's baseline, under the bars
        "margin_top": 0.0,
        "margin_bottom": 0.0,
        "background": "white",
        "foreground": "black",
    }
    svg: str = _code128(data, _PathSVGWriter()).render(options)
    return svg


def code128_png_data_uri(data: str) -> str:
    """Code 128 for `data` (quiet zones included) as a PNG data: URI one pixel per module and one
    pixel high, for a stylesheet to stretch to the symbol's size with `image-rendering:
    pixelated` (bars stay sharp: no interpolation). A sheet repeats the symbol on every label:
    WeasyPrint embeds one PNG once and draws it by reference, where it parses and draws an SVG's
    path again for each label (a third of a sheet's time)."""
    quiet = "0" * CODE128_QUIET_ZONE_MODULES
    modules = quiet + _code128(data).build()[0] + quiet
    image = Image.frombytes("L", (len(modules), 1), bytes(0 if m == "1" else 255 for m in modules))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def datamatrix_modules(data: str) -> int:
    """The symbol's width in modules, its one-module quiet zone included."""
    return len(_datamatrix(data).matrix[0]) + 2


def _datamatrix(data: str) -> DataMatrix:
    if not data:
        raise ValueError("Nothing to encode.")
    if not data.isascii():
        # ppf-datamatrix has no extended-ASCII (upper shift) support; our identifiers are ASCII.
        raise ValueError(f"DataMatrix here encodes ASCII only, not {data!r}.")
    return DataMatrix(data)


def datamatrix_svg(data: str, *, module_size: float = 0.5) -> str:
    """A square ECC 200 DataMatrix for `data` as SVG markup (no XML declaration).

    The library draws the symbol in module units; we give it a viewBox and a physical size so
    that `module_size` millimetres is one module, and a white background for its quiet zone."""
    try:
        svg = _datamatrix(data).svg(fg="#000", bg="#FFF")
    except ValueError as exc:
        raise ValueError(f"DataMatrix cannot encode {data!r}: {exc}") from exc
    svg = _strip_declaration(svg)
    match = _DATAMATRIX_SIZE.search(svg)
    if match is None:  # the pinned library changed its output: fail loudly, not print garbage
        raise RuntimeError("Unexpected SVG from ppf-datamatrix; check the pinned version.")
    height, width = int(match.group(1)), int(match.group(2))
    sized = (
        f'width="{width * module_size:.3f}mm" height="{height * module_size:.3f}mm" '
        f'viewBox="0 0 {width} {height}"'
    )
    svg = svg[: match.start()] + sized + svg[match.end():]
    background = f'<rect width="{width}" height="{height}" fill="#FFF"/>'
    head_end = svg.index(">") + 1
    return svg[:head_end] + background + svg[head_end:]


_ROOT_SVG = re.compile(r"^<svg ")


def compose_svg(width_mm: float, height_mm: float, symbols: Sequence[tuple[str, float, float]]) -> str:
    """One SVG of `width_mm` x `height_mm` holding symbols drawn by the functions above, each
    (svg, x, y) with its top left corner at x, y millimetres, at its own size.

    A printout with two symbols then loads, lays out and draws one image instead of two, which
    is most of what an image costs WeasyPrint (a wristband: ~2 ms of ~22; docs/benchmarks.md).
    Each symbol stays a nested <svg> with its own viewBox and white background, untouched."""
    placed = "".join(_ROOT_SVG.sub(f'<svg x="{x:.3f}mm" y="{y:.3f}mm" ', svg, count=1)
                     for svg, x, y in symbols)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.3f}mm" '
            f'height="{height_mm:.3f}mm">{placed}</svg>')
