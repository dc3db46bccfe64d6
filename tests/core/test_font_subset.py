"""One-pass font subsetting embeds exactly the font programs WeasyPrint's two passes do."""

from __future__ import annotations

from typing import Any

import pytest
import weasyprint
from weasyprint import HTML
from weasyprint.pdf import fonts as pdf_fonts
from weasyprint.text.fonts import FontConfiguration

from app.core import font_subset
from tests import pdf_tools

DOCUMENTS = {
    "latin and accented": "<p style='font-family: DejaVu Sans'>Müller <b>NGUYỄN, Thị Mai</b></p>",
    "chinese": "<p lang='zh-Hans' style='font-family: DejaVu Sans, Noto Sans CJK SC'>王秀英 <b>李小龍</b></p>",
    # No family named: fontconfig falls back, and HarfBuzz's closure adds alternates past the
    # last glyph used, which the second pass must still trim.
    "fallback with closure": "<p>佐藤さくら 김민준 <b>王秀英</b></p>",
}


@pytest.mark.parametrize("html", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_embedded_fonts_are_the_ones_weasyprint_would_embed(html: str, monkeypatch: Any) -> None:
    embedded: list[tuple[str, bytes, bytes]] = []

    def compare(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
        original = font.file_content
        font_subset.WEASYPRINT_SUBSET(font, to_unicode, hinting)
        theirs, font.file_content = font.file_content, original
        font_subset.harfbuzz_subset_font(font, to_unicode, hinting)
        embedded.append((font.family, theirs, font.file_content))

    monkeypatch.setattr(pdf_fonts.Font, "_harfbuzz_subset", compare)
    HTML(string=html).write_pdf(font_config=FontConfiguration())
    assert embedded
    for family, theirs, ours in embedded:
        assert ours == theirs, family


def test_rendering_through_the_app_uses_it() -> None:
    import app.core.pdf  # noqa: F401  (installs it)

    assert weasyprint.__version__ == font_subset.CHECKED_WEASYPRINT, "re-check app/core/font_subset.py"
    assert pdf_fonts.Font._harfbuzz_subset is font_subset.harfbuzz_subset_font


def test_a_pdf_with_cjk_text_still_reads_back() -> None:
    pdf = bytes(HTML(string=DOCUMENTS["chinese"]).write_pdf(font_config=FontConfiguration()))
    assert "王秀英" in pdf_tools.text(pdf) and "李小龍" in pdf_tools.text(pdf)
    assert all(f["emb"] == "yes" and f["sub"] == "yes" for f in pdf_tools.fonts(pdf))
