"""Cheaper font embedding prints exactly what WeasyPrint's own does.

TrueType fonts: the same bytes. CID-keyed CFF fonts (Noto Sans CJK), embedded bare and without
kept glyph ids: the same pixels through poppler's two renderers (what CUPS prints with, and
what a Linux desktop shows), the same text, and each glyph under its own CID.
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import weasyprint
import weasyprint.pdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont
from weasyprint import HTML
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.fonts import FontConfiguration

from app.core import font_subset
from app.core import pdf as app_pdf  # noqa: F401  (importing it installs font_subset)
from tests import pdf_tools

CJK_COLLECTION = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DOCUMENTS = {
    "latin and accented": "<p style='font-family: DejaVu Sans'>Müller <b>NGUYỄN, Thị Mai</b></p>",
    # HarfBuzz's closure adds glyphs past the last one used (the arrow's alternates), which the
    # second pass must still trim.
    "changes with an arrow": "<p style='font-family: DejaVu Sans'>family_name: Smith → Smyth</p>",
    "chinese": "<p lang='zh-Hans' style='font-family: DejaVu Sans, Noto Sans CJK SC'>WANG 王秀英 <b>LI 李小龍</b></p>",
    # No family named: fontconfig falls back (to Noto Sans CJK, whose closure adds alternates).
    "fallback": "<p>佐藤さくら 김민준 <b>王秀英</b></p>",
    "serif, japanese": "<p style='font-family: Noto Serif CJK JP; font-size: 20pt'>東京都 龍 さくら</p>",
}


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert pdf_fonts.Font._harfbuzz_subset is font_subset.harfbuzz_subset_font


@contextmanager
def weasyprint_own() -> Iterator[None]:
    """WeasyPrint exactly as shipped, for as long as the block runs."""
    saved = {"_harfbuzz_subset": pdf_fonts.Font._harfbuzz_subset, "__init__": pdf_fonts.Font.__init__,
             "type": pdf_fonts.Font.type, "file_content": pdf_fonts.Font.__dict__.get("file_content")}
    saved_data, saved_dictionary = pdf_fonts.get_hb_object_data, weasyprint.pdf.build_fonts_dictionary
    pdf_fonts.Font._harfbuzz_subset = font_subset.WEASYPRINT_SUBSET
    pdf_fonts.Font.__init__ = font_subset.WEASYPRINT_FONT_INIT
    pdf_fonts.Font.type = font_subset.WEASYPRINT_FONT_TYPE
    if saved["file_content"] is not None:
        del pdf_fonts.Font.file_content
    pdf_fonts.get_hb_object_data = font_subset.get_hb_object_data
    weasyprint.pdf.build_fonts_dictionary = font_subset.WEASYPRINT_FONTS_DICTIONARY
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is not None:
                setattr(pdf_fonts.Font, name, value)
        pdf_fonts.get_hb_object_data = saved_data
        weasyprint.pdf.build_fonts_dictionary = saved_dictionary


def font_types(pdf: bytes) -> dict[str, str]:
    """pdffonts' font types by font name (without the subset tag)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        lines = subprocess.run(["pdffonts", str(source)], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
    # name, type (words), encoding, emb, sub, uni, object, id
    return {line.split()[0].split("+")[-1]: " ".join(line.split()[1:-6]) for line in lines}


def render(html: str) -> bytes:
    return bytes(HTML(string=html).write_pdf(font_config=FontConfiguration()))


def pixels(pdf: bytes, tool: str) -> bytes:
    """The first page as poppler draws it, at 100 dpi in grey: with Splash (pdftoppm, as CUPS
    rasterises) or Cairo (pdftocairo, as desktop viewers draw)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        if tool == "splash":
            subprocess.run(["pdftoppm", "-r", "100", "-gray", "-singlefile", str(source),
                            str(Path(folder) / "page")], check=True)
            return (Path(folder) / "page.pgm").read_bytes()
        subprocess.run(["pdftocairo", "-png", "-r", "100", "-gray", "-singlefile", str(source),
                        str(Path(folder) / "page")], check=True)
        return (Path(folder) / "page.png").read_bytes()


@pytest.mark.parametrize("html", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_printouts_look_and_read_exactly_as_with_weasyprints_own_embedding(html: str) -> None:
    ours = render(html)
    with weasyprint_own():
        theirs = render(html)
    assert pdf_tools.text(ours) == pdf_tools.text(theirs)
    assert pixels(ours, "splash") == pixels(theirs, "splash")
    assert pixels(ours, "cairo") == pixels(theirs, "cairo")
    if "CJK" in str(font_types(theirs)):
        assert len(ours) < len(theirs) / 2
    else:
        assert len(ours) == len(theirs)


TRUETYPE = ("latin and accented", "changes with an arrow", "chinese")


@pytest.mark.parametrize("name", TRUETYPE)
def test_truetype_fonts_embed_the_bytes_weasyprint_would(name: str, monkeypatch: Any) -> None:
    embedded: list[tuple[str, bytes, bytes]] = []

    def compare(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
        if "CFF " in font.tables:
            font_subset.harfbuzz_subset_font(font, to_unicode, hinting)
            return
        original = font.file_content
        font_subset.WEASYPRINT_SUBSET(font, to_unicode, hinting)
        theirs, font.file_content = font.file_content, original
        font_subset.harfbuzz_subset_font(font, to_unicode, hinting)
        embedded.append((font.family, theirs, font.file_content))

    monkeypatch.setattr(pdf_fonts.Font, "_harfbuzz_subset", compare)
    render(DOCUMENTS[name])
    assert embedded
    for family, theirs, ours in embedded:
        assert ours == theirs, family


def test_cjk_fonts_are_embedded_as_small_bare_cff_with_each_glyph_under_its_own_cid() -> None:
    fonts: list[Any] = []
    original = font_subset.harfbuzz_subset_font

    def keep(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
        original(font, to_unicode, hinting)
        fonts.append((font, dict(to_unicode)))

    pdf_fonts.Font._harfbuzz_subset = keep
    try:
        pdf = render(DOCUMENTS["chinese"])
    finally:
        pdf_fonts.Font._harfbuzz_subset = original
    cjk = [(font, used) for font, used in fonts if font.family.startswith("Noto Sans CJK")]
    assert len(cjk) == 2  # regular and bold
    for font, used in cjk:
        assert font.bare_cff and font.type == "otf" and len(font.file_content) < 5000
        runs = font_subset.cid_runs(font.file_content)
        assert runs is not None
        cids = {cid for first, count in runs for cid in range(first, first + count)}
        assert set(used) - {0} <= cids
    types = font_types(pdf)
    assert types["Noto-Sans-CJK-SC"] == "CID Type 0C" and types["DejaVu-Sans"] == "CID TrueType"
    assert "王秀英" in pdf_tools.text(pdf) and "李小龍" in pdf_tools.text(pdf)


def test_cjk_fonts_are_subset_from_a_face_of_their_outlines_made_once() -> None:
    fonts = FontConfiguration()
    HTML(string=DOCUMENTS["chinese"]).write_pdf(font_config=fonts)
    faces = dict(font_subset._outline_faces)
    HTML(string=DOCUMENTS["chinese"]).write_pdf(font_config=fonts)
    assert faces and all(font_subset._outline_faces[key][1] is outline
                         for key, (_, outline) in faces.items())
    for _, outline in faces.values():
        assert font_subset._table(outline, b"GSUB") is None  # no closure over substitutions
        assert font_subset._table(outline, b"CFF ") is not None


def test_a_font_the_check_does_not_vouch_for_is_embedded_as_weasyprint_does(monkeypatch: Any) -> None:
    monkeypatch.setattr(font_subset, "_has_cids", lambda *args: False)
    pdf = render(DOCUMENTS["chinese"])
    assert set(font_types(pdf).values()) == {"CID Type 0C (OT)", "CID TrueType"}
    with weasyprint_own():
        theirs = render(DOCUMENTS["chinese"])
    assert pixels(pdf, "splash") == pixels(theirs, "splash")


def test_the_whole_font_file_is_read_only_when_embedded_whole(monkeypatch: Any) -> None:
    reads: list[Any] = []
    real = font_subset.get_hb_object_data

    def counting(hb_object: Any, *args: Any) -> Any:
        if not args:
            reads.append(hb_object)
        return real(hb_object, *args)

    monkeypatch.setattr(font_subset, "get_hb_object_data", counting)
    subset = render(DOCUMENTS["latin and accented"])
    assert len(reads) == 2  # the two subsets, never the two font files
    reads.clear()
    whole = bytes(HTML(string=DOCUMENTS["latin and accented"]).write_pdf(
        font_config=FontConfiguration(), full_fonts=True))
    assert len(whole) > 10 * len(subset) and len(reads) == 2  # each font file, once
    assert "NGUYỄN, Thị Mai" in pdf_tools.text(whole)


def test_rendering_through_the_app_uses_it() -> None:
    import app.core.pdf  # noqa: F401  (installs it)

    assert weasyprint.__version__ == font_subset.CHECKED_WEASYPRINT, "re-check app/core/font_subset.py"
    assert pdf_fonts.Font._harfbuzz_subset is font_subset.harfbuzz_subset_font
    assert weasyprint.pdf.build_fonts_dictionary is font_subset._fonts_dictionary


# --- reading a CFF font's charset --------------------------------------------------------------

def test_the_charset_of_noto_sans_cjk_reads_as_fonttools_reads_it() -> None:
    with TTFont(CJK_COLLECTION, fontNumber=0, lazy=True) as font:
        raw = font.reader["CFF "]
        order = font.getGlyphOrder()
    expected: list[tuple[int, int]] = []
    for name in order[1:]:
        cid = int(name.removeprefix("cid"))
        if expected and sum(expected[-1]) == cid:
            expected[-1] = (expected[-1][0], expected[-1][1] + 1)
        else:
            expected.append((cid, 1))
    runs = font_subset.cid_runs(raw)
    assert runs == expected and font_subset.is_identity(runs)


def _cff(charset: bytes, glyphs: int, *, cid_keyed: bool = True) -> bytes:
    """A minimal CFF table: header, Name INDEX, a Top DICT (ROS, charset, CharStrings offsets),
    an empty String INDEX, an INDEX of `glyphs` one-byte charstrings, then `charset`."""

    def index(items: list[bytes]) -> bytes:
        offsets = [1]
        for item in items:
            offsets.append(offsets[-1] + len(item))
        return struct.pack(">HB", len(items), 2) + b"".join(struct.pack(">H", o) for o in offsets) + b"".join(items)

    def number(value: int) -> bytes:
        return b"\x1d" + struct.pack(">i", value)  # always the 5-byte form: offsets stay put

    header, names = b"\x01\x00\x04\x02", index([b"Test"])
    ros = (number(391) + number(392) + number(0) + b"\x0c\x1e") if cid_keyed else b""
    top_size = len(index([ros + number(0) + b"\x0f" + number(0) + b"\x11"]))
    strings = index([])
    charstrings = index([b"\x0e"] * glyphs)
    charstrings_at = len(header) + len(names) + top_size + len(strings)
    charset_at = charstrings_at + len(charstrings)
    top = index([ros + number(charset_at) + b"\x0f" + number(charstrings_at) + b"\x11"])
    return header + names + top + strings + charstrings + charset


@pytest.mark.parametrize(("charset", "runs", "identity"), [
    (b"\x00" + struct.pack(">5H", 1, 2, 3, 4, 5), [(1, 5)], True),
    (b"\x00" + struct.pack(">5H", 1, 2, 7, 8, 3), [(1, 2), (7, 2), (3, 1)], False),
    (b"\x01" + struct.pack(">HB", 1, 4), [(1, 5)], True),
    (b"\x01" + struct.pack(">HBHB", 1, 1, 10, 2), [(1, 2), (10, 3)], False),
    (b"\x02" + struct.pack(">HH", 1, 4), [(1, 5)], True),
    (b"\x02" + struct.pack(">HH", 2, 4), [(2, 5)], False),
])
def test_charsets_of_every_format_are_read(charset: bytes, runs: list[tuple[int, int]], identity: bool) -> None:
    assert font_subset.cid_runs(_cff(charset, 6)) == runs
    assert font_subset.is_identity(runs) is identity


def test_a_name_keyed_cff_font_has_no_cids() -> None:
    assert font_subset.cid_runs(_cff(b"\x02" + struct.pack(">HH", 1, 4), 6, cid_keyed=False)) is None
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = T2CharStringPen(500, None)
    pen.moveTo((0, 0)), pen.lineTo((500, 700)), pen.closePath()
    builder.setupCFF("Test", {}, {".notdef": pen.getCharString(), "A": pen.getCharString()}, {})
    assert font_subset.cid_runs(builder.font.getTableData("CFF ")) is None


def test_a_charset_shorter_than_the_font_is_refused() -> None:
    with pytest.raises(ValueError):
        font_subset.cid_runs(_cff(b"\x02" + struct.pack(">HH", 1, 2), 6))
