"""Font embedding for PDFs: cheaper than WeasyPrint 70's, with the same glyphs on paper.

WeasyPrint embeds the glyphs a document uses by subsetting each font with HarfBuzz, keeping the
original glyph ids (the page content refers to glyphs by id). For a CJK name that was the biggest
part of a wristband's render (profiled; docs/benchmarks.md), for three avoidable reasons:

1. *Two passes where one does.* WeasyPrint subsets twice: once keeping the glyph ids, then again
   keeping every glyph up to the last one used, to drop glyphs the first pass added after it
   (GSUB alternates, which HarfBuzz 6 adds by closure even though the tables are dropped). When
   the first pass added nothing after the last glyph used, the second pass re-encodes the same
   glyphs, so we skip it; otherwise we run it exactly as WeasyPrint does. Same bytes.

2. *Glyph ids kept where the font keeps them itself, and the whole font subset for its
   outlines.* Kept ids mean an empty glyph for every id below the last one used, and CJK
   ideographs sit high in a 65,535-glyph font: three of them from Noto Sans CJK made a 376 kB
   font program that took ~10 ms to build and ~3 ms to compress. Noto Sans CJK is a CID-keyed
   CFF font whose charset is the identity (glyph n has CID n), and HarfBuzz's subset keeps each
   glyph's CID in its charset; embedded as a bare CFF font program (FontFile3 /CIDFontType0C), a
   PDF reader finds each glyph by CID through that charset. So for such fonts we subset without
   keeping ids and embed the CFF table alone. (Left in its OpenType wrapper, as WeasyPrint embeds
   it, poppler would look glyphs up by id and draw nothing: that is what WeasyPrint's kept ids
   are for.) And we subset it from a face of its outline tables alone (`_outline_face`): from
   the whole font, HarfBuzz first closes the glyph set over the GSUB table (thousands of regional
   and vertical forms), ~5 ms though the table is dropped. Together: ~2 kB in ~0.1 ms. The
   result is checked (every glyph used is in it under its own CID) and anything else is subset
   WeasyPrint's way.

3. *Copying the whole font file.* WeasyPrint reads the entire font file into Python bytes when a
   font is first drawn in a document (20 MB for the Noto Sans CJK collection, ~3 ms), only to
   replace it with the subset. `Font.file_content` is read from the face when first asked for
   instead (by the fontTools paths: variable fonts, colour fonts, `full_fonts`).

Installed only for the WeasyPrint version this was checked against (any other keeps its own
code), with HarfBuzz's subsetter present. tests/core/test_font_subset.py compares the result with
WeasyPrint's own: the same bytes, or for CFF fonts the same pixels through poppler.
"""

from __future__ import annotations

import logging
import sys
import threading
from array import array
from typing import Any

import cffi
import pydyf
import weasyprint
import weasyprint.pdf
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset
from weasyprint.text.fonts import get_hb_object_data

log = logging.getLogger("infirmary.pdf")

CHECKED_WEASYPRINT = "70.0"
# WeasyPrint's own, kept for comparison.
WEASYPRINT_SUBSET = pdf_fonts.Font._harfbuzz_subset
WEASYPRINT_FONT_INIT = pdf_fonts.Font.__init__
WEASYPRINT_FONT_TYPE = pdf_fonts.Font.type
WEASYPRINT_FONTS_DICTIONARY = weasyprint.pdf.build_fonts_dictionary
# The tables WeasyPrint drops, and FontForge's timestamp (which its second pass loses anyway).
_DROP_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"FFTM", b"GPOS", b"GSUB", b"JSTF",
                b"LTSH", b"PCLT", b"SVG ")
# What a bare CFF font program is subset from: the outlines and the two tables HarfBuzz reads
# the glyph count and units from. A PDF reader takes metrics, character map and names from the
# PDF's own dictionaries.
_OUTLINE_TABLES = (b"CFF ", b"head", b"maxp")
# A first pass that retains glyph ids ends one glyph past the last one used (HarfBuzz 6 keeps a
# trailing slot); more than that is closure the second pass would trim.
_TRAILING_SLOTS = 2


# --- the CFF charset: which CID each glyph has -----------------------------------------------
# Just enough of the CFF format (Adobe TN #5176) to read a CID-keyed font's charset: the header,
# the Name and Top DICT INDEXes, the Top DICT's ROS, charset and CharStrings entries.

_ROS, _CHARSET, _CHARSTRINGS = 1230, 15, 17  # DICT operators (12 30 is a two-byte one)


def _u16(data: memoryview | bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 2], "big")


def _index(data: memoryview | bytes, at: int) -> tuple[int, bytes, int]:
    """(count, first item, end) of the INDEX at `at`."""
    count = _u16(data, at)
    if count == 0:
        return 0, b"", at + 2
    size = data[at + 2]

    def offset(i: int) -> int:
        start = at + 3 + i * size
        return int.from_bytes(data[start:start + size], "big")

    base = at + 3 + (count + 1) * size - 1  # offsets count from 1
    return count, bytes(data[base + offset(0):base + offset(1)]), base + offset(count)


def _dict(data: bytes) -> dict[int, list[int]]:
    """A DICT's operators and their integer operands (a real reads as 0: none we use is one)."""
    entries: dict[int, list[int]] = {}
    operands: list[int] = []
    i = 0
    while i < len(data):
        b0 = data[i]
        if b0 <= 21:
            op = 1200 + data[i + 1] if b0 == 12 else b0
            i += 2 if b0 == 12 else 1
            entries[op], operands = operands, []
        elif b0 == 28:
            operands.append(int.from_bytes(data[i + 1:i + 3], "big", signed=True))
            i += 3
        elif b0 == 29:
            operands.append(int.from_bytes(data[i + 1:i + 5], "big", signed=True))
            i += 5
        elif b0 == 30:  # a real: nibbles up to an 0xf one
            i += 1
            while data[i] >> 4 != 0xF and data[i] & 0xF != 0xF:
                i += 1
            i += 1
            operands.append(0)
        elif 32 <= b0 <= 246:
            operands.append(b0 - 139)
            i += 1
        elif 247 <= b0 <= 250:
            operands.append((b0 - 247) * 256 + data[i + 1] + 108)
            i += 2
        elif 251 <= b0 <= 254:
            operands.append(-(b0 - 251) * 256 - data[i + 1] - 108)
            i += 2
        else:
            raise ValueError(f"reserved DICT byte {b0}")
    return entries


def cid_runs(cff: memoryview | bytes) -> list[tuple[int, int]] | None:
    """The charset of a CID-keyed CFF font as (first CID, count) runs of consecutive CIDs for
    glyph ids 1, 2, 3… in order (glyph 0 is .notdef, CID 0); None for a name-keyed font.

    Raises ValueError or IndexError on a malformed table."""
    _, _, at = _index(cff, cff[2])  # the Name INDEX, after the header
    count, top, _ = _index(cff, at)
    if count != 1:
        return None  # a FontSet of several fonts: not what an OpenType font holds
    top_dict = _dict(top)
    if _ROS not in top_dict or _CHARSET not in top_dict or _CHARSTRINGS not in top_dict:
        return None
    glyphs = _u16(cff, top_dict[_CHARSTRINGS][0])
    at = top_dict[_CHARSET][0]
    charset_format, at = cff[at], at + 1
    runs: list[tuple[int, int]] = []
    covered = 1
    if charset_format == 0:  # one CID per glyph
        if at + 2 * (glyphs - 1) > len(cff):
            raise ValueError("the charset runs past the table")
        cids = array("H", bytes(cff[at:at + 2 * (glyphs - 1)]))
        if sys.byteorder == "little":
            cids.byteswap()
        for cid in cids:
            if runs and sum(runs[-1]) == cid:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((cid, 1))
        covered += len(cids)
    elif charset_format in (1, 2):  # ranges: first CID, then how many follow (Card8 or Card16)
        while covered < glyphs:
            if at + 2 + charset_format > len(cff):
                raise ValueError("the charset runs past the table")
            left = int.from_bytes(cff[at + 2:at + 2 + charset_format], "big")
            runs.append((_u16(cff, at), left + 1))
            covered += left + 1
            at += 2 + charset_format
    else:
        raise ValueError(f"unknown charset format {charset_format}")
    if covered != glyphs:
        raise ValueError("the charset does not cover the glyphs")
    return runs


def _table(face: Any, tag: bytes) -> bytes | None:
    blob = harfbuzz.hb_face_reference_table(face, harfbuzz.hb_tag_from_string(tag, -1))
    try:
        with ffi.new("unsigned int *") as length:
            data = harfbuzz.hb_blob_get_data(blob, length)
            return None if data == ffi.NULL or not length[0] else ffi.unpack(data, length[0])
    finally:
        harfbuzz.hb_blob_destroy(blob)


def _charset(face: Any) -> list[tuple[int, int]] | None:
    """The face's CFF charset as `cid_runs` reads it, read in place (a CJK CFF table is 16 MB)."""
    blob = harfbuzz.hb_face_reference_table(face, harfbuzz.hb_tag_from_string(b"CFF ", -1))
    try:
        with ffi.new("unsigned int *") as length:
            data = harfbuzz.hb_blob_get_data(blob, length)
            if data == ffi.NULL or length[0] < 4:
                return None
            with memoryview(ffi.buffer(data, length[0])) as cff:
                return cid_runs(cff)
    except (IndexError, ValueError):
        log.warning("Unreadable CFF table; font subset as WeasyPrint does")
        return None
    finally:
        harfbuzz.hb_blob_destroy(blob)


def is_identity(runs: list[tuple[int, int]] | None) -> bool:
    """Whether a charset gives glyph n the CID n."""
    if runs is None:
        return False
    expected = 1
    for first, count in runs:
        if first != expected:
            return False
        expected += count
    return True


def _has_cids(runs: list[tuple[int, int]] | None, glyphs: list[int], glyph_count: int) -> bool:
    """Whether every glyph used (its id being its CID) has its CID in the charset `runs`."""
    if runs is None:
        return False
    cids: set[int] = set()
    for first, count in runs:
        cids.update(range(first, first + count))
    return all(glyph in cids for glyph in glyphs if 0 < glyph < glyph_count)


# --- a face of the outlines alone -----------------------------------------------------------
# HarfBuzz subsets a font as a whole: given Noto Sans CJK, it first works out which glyphs its
# GSUB table could substitute for the ones asked for (thousands of regional and vertical forms),
# ~5 ms for three ideographs, though the table is dropped and only the outlines are kept. From a
# face made of the outline tables alone, the same glyphs subset in ~0.05 ms. HarfBuzz's face
# builder makes one, sharing the font's (memory-mapped) tables; WeasyPrint does not declare it,
# so it is declared here, on the same library.

_builder_ffi = cffi.FFI()
_builder_ffi.cdef("""
    typedef struct hb_face_t hb_face_t;
    typedef struct hb_blob_t hb_blob_t;
    typedef uint32_t hb_tag_t;
    typedef int hb_bool_t;
    hb_face_t * hb_face_builder_create (void);
    hb_bool_t hb_face_builder_add_table (hb_face_t *face, hb_tag_t tag, hb_blob_t *blob);
""")
# The names WeasyPrint opens HarfBuzz by (weasyprint/text/ffi.py): the library it already uses.
_HARFBUZZ_NAMES = ("libharfbuzz-0", "harfbuzz", "harfbuzz-0.0", "libharfbuzz.so.0",
                   "libharfbuzz.0.dylib", "libharfbuzz-0.dll")
_builder: Any = None
_outline_faces: dict[int, tuple[Any, Any]] = {}  # source face address: (source, outline face)
_OUTLINE_FACES_MAX = 16
_outline_lock = threading.Lock()


def _between(to_ffi: Any, ctype: str, pointer: Any, from_ffi: Any) -> Any:
    """The same C pointer, typed for another cffi instance."""
    return to_ffi.cast(ctype, int(from_ffi.cast("uintptr_t", pointer)))


def _open_harfbuzz() -> Any:
    for name in _HARFBUZZ_NAMES:
        try:
            return _builder_ffi.dlopen(name)
        except OSError:
            continue
    log.warning("HarfBuzz's face builder not found; CFF fonts subset from the whole font")
    return False


def _outline_face(source: Any) -> Any:
    """A face of `source`'s outline tables alone, made once per face and kept (with a
    reference to `source`, so that no other face can take its address while it is a key)."""
    global _builder
    key = int(ffi.cast("uintptr_t", source))
    with _outline_lock:
        if key in _outline_faces:
            return _outline_faces[key][1]
        if _builder is None:
            _builder = _open_harfbuzz()
        if _builder is False:
            return source
        face = _builder.hb_face_builder_create()
        for tag in _OUTLINE_TABLES:
            blob = harfbuzz.hb_face_reference_table(source, harfbuzz.hb_tag_from_string(tag, -1))
            _builder.hb_face_builder_add_table(
                face, harfbuzz.hb_tag_from_string(tag, -1),
                _between(_builder_ffi, "hb_blob_t *", blob, ffi))
            harfbuzz.hb_blob_destroy(blob)  # the face holds its own reference
        outline = ffi.gc(_between(ffi, "hb_face_t *", face, _builder_ffi), harfbuzz.hb_face_destroy)
        while len(_outline_faces) >= _OUTLINE_FACES_MAX:
            _outline_faces.pop(next(iter(_outline_faces)))
        _outline_faces[key] = (ffi.gc(harfbuzz.hb_face_reference(source), harfbuzz.hb_face_destroy),
                               outline)
        return outline


# --- subsetting ------------------------------------------------------------------------------

def _subset_once(face: Any, glyphs: list[int], flags: int, drop_tables: tuple[bytes, ...] = _DROP_TABLES
                 ) -> Any:
    subset_input = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(),
                          harfbuzz_subset.hb_subset_input_destroy)
    glyph_set = harfbuzz_subset.hb_subset_input_glyph_set(subset_input)
    array_ = ffi.new(f"hb_codepoint_t[{len(glyphs)}]", glyphs)
    harfbuzz.hb_set_add_sorted_array(glyph_set, array_, len(glyphs))
    harfbuzz_subset.hb_subset_input_set_flags(subset_input, flags)
    drop = harfbuzz_subset.hb_subset_input_set(
        subset_input, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG)
    tags = sorted(harfbuzz.hb_tag_from_string(name, -1) for name in drop_tables)
    harfbuzz.hb_set_add_sorted_array(drop, ffi.new(f"hb_codepoint_t[{len(tags)}]", tags), len(tags))
    return ffi.gc(harfbuzz_subset.hb_subset_or_fail(face, subset_input), harfbuzz.hb_face_destroy)


def harfbuzz_subset_font(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
    """Replace `font.file_content` with the subset of the glyphs in `to_unicode`, drawn as
    WeasyPrint's Font._harfbuzz_subset draws them."""
    flags = (harfbuzz_subset.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
             | harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE)
    if not hinting:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING
    if font.missing:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NOTDEF_OUTLINE
    glyphs = sorted(to_unicode)
    if "CFF " in font.tables and is_identity(_charset(font.hb_face)):
        face = _subset_once(_outline_face(font.hb_face), glyphs, flags, ())
        cff = _table(face, b"CFF ") if face else None
        if cff is not None and _has_cids(cid_runs(cff), glyphs, font.glyph_count):
            font.file_content = cff
            font.bare_cff = True
            return
        log.warning("HarfBuzz renumbered a CID-keyed font; subset as WeasyPrint does",
                    extra={"font": font.family})
    face = _subset_once(font.hb_face, glyphs, flags | harfbuzz_subset.HB_SUBSET_FLAGS_RETAIN_GIDS)
    if face and harfbuzz.hb_face_get_glyph_count(face) > glyphs[-1] + _TRAILING_SLOTS:
        face = _subset_once(face, list(range(glyphs[-1] + 1)), flags)
    content = get_hb_object_data(face) if face else None
    if content:
        font.file_content = content
    else:
        log.warning("Unable to subset a font with HarfBuzz; embedding it whole",
                    extra={"font": font.family})


# --- the font file, read when needed ----------------------------------------------------------

_UNREAD = object()
_constructing = threading.local()


class _FileContent:
    """`Font.file_content`: the whole font file, read from the face only if asked for (a font
    that is subset never is)."""

    def __get__(self, font: Any, owner: Any = None) -> Any:
        if font is None:
            return self
        content = font.__dict__.get("_file_content", _UNREAD)
        if content is _UNREAD:
            content = font.__dict__["_file_content"] = get_hb_object_data(font.hb_face)
        return content

    def __set__(self, font: Any, value: Any) -> None:
        font.__dict__["_file_content"] = value


def _face_data(hb_object: Any, ot_color: str | None = None, glyph: int | None = None) -> Any:
    """WeasyPrint's get_hb_object_data, except for the whole font file while a Font is built."""
    if ot_color is None and getattr(_constructing, "font", False):
        return _UNREAD
    return get_hb_object_data(hb_object, ot_color, glyph)


def _font_init(font: Any, *args: Any, **kwargs: Any) -> None:
    _constructing.font = True
    try:
        WEASYPRINT_FONT_INIT(font, *args, **kwargs)
    finally:
        _constructing.font = False


# --- a bare CFF font program: FontFile3 /CIDFontType0C -----------------------------------------

def _font_type(font: Any) -> str:
    """'otf' (embedded as CIDFontType0 in a FontFile3) for a bare CFF font program too."""
    return "otf" if font.__dict__.get("bare_cff") else str(WEASYPRINT_FONT_TYPE.fget(font))


def _fonts_dictionary(pdf: Any, fonts: dict[Any, Any], *args: Any) -> Any:
    """WeasyPrint's font dictionaries, with a bare CFF font program's stream marked as one
    (WeasyPrint marks every CFF font program as an OpenType font)."""
    first = len(pdf.objects)
    dictionary = WEASYPRINT_FONTS_DICTIONARY(pdf, fonts, *args)
    bare = {id(font.file_content) for font in fonts.values() if font.__dict__.get("bare_cff")}
    for obj in pdf.objects[first:]:
        if (isinstance(obj, pydyf.Stream) and obj.extra.get("Subtype") == "/OpenType"
                and len(obj.stream) == 1 and id(obj.stream[0]) in bare):
            obj.extra["Subtype"] = "/CIDFontType0C"
    return dictionary


def install() -> bool:
    """Use the cheaper embedding in WeasyPrint, where it was checked. True when installed."""
    if weasyprint.__version__ != CHECKED_WEASYPRINT or harfbuzz_subset is None:
        return False
    if not harfbuzz.hb_version_atleast(4, 1, 0):  # WeasyPrint's own minimum for HarfBuzz subsetting
        return False
    pdf_fonts.Font._harfbuzz_subset = harfbuzz_subset_font
    pdf_fonts.Font.file_content = _FileContent()
    pdf_fonts.Font.__init__ = _font_init
    pdf_fonts.get_hb_object_data = _face_data
    pdf_fonts.Font.type = property(_font_type)
    weasyprint.pdf.build_fonts_dictionary = _fonts_dictionary
    return True
