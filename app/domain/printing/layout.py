"""Where things go on a label: pure geometry from the label stock's size.

Label stock differs between printers (a 62 x 29 mm address label, a 25 x 250 mm wristband), so
the layout is computed from `PRINT_LABEL_SIZE` rather than fixed in CSS. Two shapes:

- compact (a label up to about 3:1): name, date of birth and sex at the top left, the
  DataMatrix at the top right, the Code 128 across the bottom with the MRN under it.
- strip (a wristband, longer than about 3:1): one row along the band: text, Code 128, DataMatrix.

A stock configured taller than wide (e.g. "25mm 250mm", as a wristband printer's driver may
describe it) is laid out along its length and turned a quarter for printing.

The date of birth and sex always print: the name gets the room that is left, in the largest type
that fits, and is cut (not the date of birth) when even the smallest type does not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from app.core import barcodes
from app.core.pdf import page_size_mm, svg_data_uri, svg_from_data_uri

STRIP_RATIO = 3.0
MAX_CODE128_MODULE_MM = 0.5
MAX_DATAMATRIX_MODULE_MM = 1.0
MIN_NAME_PT = 6.0
PT_TO_MM = 25.4 / 72
LINE_HEIGHT = 1.15  # as in static/print/label.css
# Room above a name's first line, in ems, for stacked accents on capitals (Vietnamese "Ễ"),
# which rise above the font's ascent and would otherwise be clipped with the overflow.
ACCENT_ROOM = 0.25
FACTS_GAP = 0.6  # between the name and the date-of-birth line, mm
GAP = 1.5  # between the blocks, mm


@dataclass(frozen=True)
class LabelLayout:
    page_size: str  # the CSS @page size, as configured
    page_w: float  # millimetres, as the printer sees the page
    page_h: float
    rotated: bool  # drawn along a tall stock's length, then turned 90°
    strip: bool
    box_w: float  # the content's box, its long side across
    box_h: float
    padding: float
    text_w: float  # the name/date-of-birth block
    text_h: float
    name_pt: float
    name_lines: int  # at most; a longer name is cut
    facts_pt: float
    mrn_pt: float
    code128_module: float
    code128_width: float  # quiet zones included
    code128_height: float
    datamatrix_module: float
    datamatrix_size: float

    def stylesheet(self) -> str:
        """The geometry as CSS. The same stock and name size give the same text, which the
        renderer parses once and reuses."""
        p = self.padding
        name_h = self.name_lines * self.name_pt * LINE_HEIGHT * PT_TO_MM
        rules = [
            f"@page {{ size: {self.page_size}; margin: 0; }}",
            f".label {{ width: {self.box_w:g}mm; height: {self.box_h:g}mm; padding: {p:g}mm; }}",
            f".text {{ top: {p:g}mm; left: {p:g}mm; width: {self.text_w:g}mm; "
            f"height: {self.text_h:g}mm; }}",
            f".name {{ font-size: {self.name_pt:g}pt; padding-top: {ACCENT_ROOM:g}em; "
            f"max-height: {name_h:.2f}mm; }}",
            f".facts {{ font-size: {self.facts_pt:g}pt; margin-top: {FACTS_GAP:g}mm; }}",
            f".mrn {{ font-size: {self.mrn_pt:g}pt; }}",
        ]
        if self.rotated:
            rules.append(f".label {{ transform-origin: 0 0; "
                         f"transform: translate({self.page_w:g}mm, 0) rotate(90deg); }}")
        # The wristband draws both symbols as one image over the whole box (`symbols`), its MRN
        # line placed under the bars; other labels place each symbol in its own box (below).
        code_x, code_y = self.code128_at()
        if self.strip:
            rules.append(f".label > .mrn {{ top: {code_y + self.code128_height:.2f}mm; "
                         f"left: {code_x:.2f}mm; width: {self.code128_width:.2f}mm; }}")
        else:
            rules.append(f".label > .mrn {{ bottom: {p:g}mm; left: 0; right: 0; }}")
        if self.strip:
            rules += [
                ".text { display: flex; flex-direction: column; justify-content: center; }",
                f".code128 {{ top: {p:g}mm; left: {p + self.text_w + GAP:g}mm; }}",
                # Beside the bars rather than at the band's far end, which goes through the clasp.
                f".datamatrix {{ top: {(self.box_h - self.datamatrix_size) / 2:.2f}mm; "
                f"left: {p + self.text_w + GAP + self.code128_width + GAP:.2f}mm; }}",
            ]
        else:
            rules += [
                f".code128 {{ bottom: {p:g}mm; left: 0; right: 0; }}",
                ".code128 img { margin: 0 auto; }",
                f".datamatrix {{ top: {p:g}mm; right: {p:g}mm; }}",
            ]
        return "\n".join(rules)

    def code128_at(self) -> tuple[float, float]:
        """The Code 128's top left corner in the label's box, millimetres: in a strip after the
        text, on a label centred across the bottom above the MRN line."""
        p = self.padding
        if self.strip:
            return p + self.text_w + GAP, p
        mrn_line = self.mrn_pt * LINE_HEIGHT * PT_TO_MM
        return (self.box_w - self.code128_width) / 2, self.box_h - p - mrn_line - self.code128_height

    def datamatrix_at(self) -> tuple[float, float]:
        """The DataMatrix's top left corner in the label's box, millimetres: in a strip beside
        the bars (the band's far end goes through the clasp), on a label at the top right."""
        p = self.padding
        if self.strip:
            return (p + self.text_w + GAP + self.code128_width + GAP,
                    (self.box_h - self.datamatrix_size) / 2)
        return self.box_w - p - self.datamatrix_size, p

    def symbols(self, code128: str, datamatrix: str) -> str:
        """Both symbols (data: URIs, as the printing service makes them) as one image the size
        of the label's box, each where `code128_at` and `datamatrix_at` put it."""
        return svg_data_uri(barcodes.compose_svg(self.box_w, self.box_h, [
            (svg_from_data_uri(code128), *self.code128_at()),
            (svg_from_data_uri(datamatrix), *self.datamatrix_at()),
        ]))


def _em_width(text: str) -> float:
    """A rough width of `text` in ems of a bold sans-serif face: enough to choose a font size."""
    total = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            total += 1.0
        elif ch.isspace() or ch in ",.'-":
            total += 0.38
        elif ch.isupper():
            total += 0.78
        else:
            total += 0.66
    return total


def name_size(name: str, width_mm: float, height_mm: float, largest_pt: float) -> tuple[float, int]:
    """The largest font size (in 0.5 pt steps, at most `largest_pt`) at which `name` should fit
    a `width_mm` x `height_mm` box, and how many lines the box holds at that size.

    Below MIN_NAME_PT the name is cut rather than shrunk further: type too small to read is
    worse than a truncated name beside the MRN and date of birth."""
    pt = largest_pt
    while True:
        line_mm = pt * LINE_HEIGHT * PT_TO_MM
        lines = max(1, int((height_mm - ACCENT_ROOM * pt * PT_TO_MM) / line_mm))
        # Lines break between words, so not every line is full: count on 90% of each extra one.
        capacity_mm = width_mm * (lines - 0.1 * (lines - 1)) * 0.95
        if _em_width(name) * pt * PT_TO_MM <= capacity_mm or pt <= MIN_NAME_PT:
            return pt, lines
        pt -= 0.5


def _facts_height(pt: float) -> float:
    return pt * LINE_HEIGHT * PT_TO_MM + FACTS_GAP


def label_layout(size: str, mrn: str, name: str) -> LabelLayout:
    """Place the wristband's parts on stock of CSS size `size` (e.g. "62mm 29mm")."""
    page_w, page_h = page_size_mm(size)
    rotated = page_h > page_w
    box_w, box_h = (page_h, page_w) if rotated else (page_w, page_h)
    strip = box_w / box_h >= STRIP_RATIO
    padding = 2.0 if strip else 1.5
    inner_w, inner_h = box_w - 2 * padding, box_h - 2 * padding
    dm_modules = barcodes.datamatrix_modules(mrn)
    if strip:
        mrn_pt, facts_pt, largest_name_pt = 9.0, 9.0, 12.0
        dm_size = min(inner_h, dm_modules * MAX_DATAMATRIX_MODULE_MM)
        text_w, text_h = min(90.0, inner_w * 0.4), inner_h
        code_w = inner_w - text_w - dm_size - 2 * GAP
        code_h = inner_h - mrn_pt * PT_TO_MM * 1.3
    else:
        mrn_pt, facts_pt, largest_name_pt = 8.0, 7.0, 9.5
        dm_size = min(inner_h * 0.42, inner_w * 0.25, dm_modules * MAX_DATAMATRIX_MODULE_MM)
        text_w, text_h = inner_w - dm_size - GAP, dm_size
        code_w = inner_w
        code_h = inner_h - dm_size - 1.0 - mrn_pt * PT_TO_MM * 1.3
    name_pt, name_lines = name_size(name, text_w, text_h - _facts_height(facts_pt),
                                    largest_name_pt)
    dm_module = int(dm_size / dm_modules * 100) / 100
    module = barcodes.code128_module_width(mrn, code_w, MAX_CODE128_MODULE_MM)
    return LabelLayout(
        page_size=size, page_w=page_w, page_h=page_h, rotated=rotated, strip=strip,
        box_w=box_w, box_h=box_h, padding=padding, text_w=round(text_w, 2),
        text_h=round(text_h, 2), name_pt=name_pt, name_lines=name_lines, facts_pt=facts_pt,
        mrn_pt=mrn_pt, code128_module=module,
        code128_width=round(module * barcodes.code128_modules(mrn), 3),
        code128_height=round(code_h, 2), datamatrix_module=dm_module,
        datamatrix_size=round(dm_module * dm_modules, 2),
    )
