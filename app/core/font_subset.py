"""Font subsetting for PDFs in one HarfBuzz pass where WeasyPrint 70 makes two.

WeasyPrint embeds the glyphs a document uses by subsetting each font with HarfBuzz twice: once
keeping the original glyph ids (the page content refers to them), then again keeping every glyph
up to the last one used, to drop glyphs that the first pass added after it (GSUB alternates,
which HarfBuzz 6 adds by closure even though the tables are dropped). The second pass works
through every glyph id up to the last one used, and CJK ideographs sit high in a 65,535-glyph
CID-keyed CFF font: for Noto Sans CJK that pass alone costs about 20 ms per face, the biggest
single cost of a wristband with a Chinese name (profiled; see docs/benchmarks.md).

When the first pass added nothing after the last glyph used, the second pass re-encodes the same
glyphs, so we skip it; otherwise we run it exactly as WeasyPrint does. Installed only for the
WeasyPrint version this was checked against (any other keeps its own code), with HarfBuzz's
subsetter present.
"""

from __future__ import annotations

import logging
from typing import Any

import weasyprint
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset
from weasyprint.text.fonts import get_hb_object_data

log = logging.getLogger("infirmary.pdf")

CHECKED_WEASYPRINT = "70.0"
WEASYPRINT_SUBSET = pdf_fonts.Font._harfbuzz_subset  # WeasyPrint's own, kept for comparison
# The tables WeasyPrint drops, and FontForge's timestamp (which its second pass loses anyway).
_DROP_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"FFTM", b"GPOS", b"GSUB", b"JSTF",
                b"LTSH", b"PCLT", b"SVG ")
# A first pass that retains glyph ids ends one glyph past the last one used (HarfBuzz 6 keeps a
# trailing slot); more than that is closure the second pass would trim.
_TRAILING_SLOTS = 2


def _subset_once(face: Any, glyphs: list[int], flags: int) -> Any:
    subset_input = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(),
                          harfbuzz_subset.hb_subset_input_destroy)
    glyph_set = harfbuzz_subset.hb_subset_input_glyph_set(subset_input)
    array = ffi.new(f"hb_codepoint_t[{len(glyphs)}]", glyphs)
    harfbuzz.hb_set_add_sorted_array(glyph_set, array, len(glyphs))
    harfbuzz_subset.hb_subset_input_set_flags(subset_input, flags)
    drop = harfbuzz_subset.hb_subset_input_set(
        subset_input, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG)
    tags = sorted(harfbuzz.hb_tag_from_string(name, -1) for name in _DROP_TABLES)
    harfbuzz.hb_set_add_sorted_array(drop, ffi.new(f"hb_codepoint_t[{len(tags)}]", tags), len(tags))
    return ffi.gc(harfbuzz_subset.hb_subset_or_fail(face, subset_input), harfbuzz.hb_face_destroy)


def harfbuzz_subset_font(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
    """Replace `font.file_content` with the subset of the glyphs in `to_unicode` (glyph ids kept),
    as WeasyPrint's Font._harfbuzz_subset does."""
    flags = (harfbuzz_subset.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
             | harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE)
    if not hinting:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING
    if font.missing:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NOTDEF_OUTLINE
    last = max(to_unicode)
    face = _subset_once(font.hb_face, sorted(to_unicode),
                        flags | harfbuzz_subset.HB_SUBSET_FLAGS_RETAIN_GIDS)
    if face and harfbuzz.hb_face_get_glyph_count(face) > last + _TRAILING_SLOTS:
        face = _subset_once(face, list(range(last + 1)), flags)
    content = get_hb_object_data(face) if face else None
    if content:
        font.file_content = content
    else:
        log.warning("Unable to subset a font with HarfBuzz; embedding it whole",
                    extra={"font": font.family})


def install() -> bool:
    """Use the one-pass subsetting in WeasyPrint, where it was checked. True when installed."""
    if weasyprint.__version__ != CHECKED_WEASYPRINT or harfbuzz_subset is None:
        return False
    if not harfbuzz.hb_version_atleast(4, 1, 0):  # WeasyPrint's own minimum for HarfBuzz subsetting
        return False
    pdf_fonts.Font._harfbuzz_subset = harfbuzz_subset_font
    return True
