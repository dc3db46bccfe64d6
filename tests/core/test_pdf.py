"""Rendering PDFs: page sizes from config, stylesheets parsed once, nothing outside static/."""

from __future__ import annotations

from typing import Any

import pytest

from app.core import pdf
from tests import pdf_tools


@pytest.mark.parametrize(("size", "expected"), [
    ("62mm 29mm", (62.0, 29.0)),
    ("25mm 250mm", (25.0, 250.0)),
    ("4in 2in", (101.6, 50.8)),
    ("6cm", (60.0, 60.0)),
    ("A4", (210.0, 297.0)),
    ("a4 landscape", (297.0, 210.0)),
    ("Letter portrait", (215.9, 279.4)),
])
def test_page_sizes_are_read_as_css_does(size: str, expected: tuple[float, float]) -> None:
    assert pdf.page_size_mm(size) == pytest.approx(expected)


@pytest.mark.parametrize("size", ["", "62 29", "62mm 29mm 1mm", "-5mm 10mm", "62mm landscape", "A9"])
def test_nonsense_page_sizes_are_refused(size: str) -> None:
    with pytest.raises(ValueError):
        pdf.page_size_mm(size)


def test_stylesheets_are_parsed_once_and_applied(app: Any) -> None:
    with app.test_request_context():
        first = pdf._stylesheet("print/label.css", pdf._static_root(), pdf._fetcher(pdf._static_root()))
        again = pdf._stylesheet("print/label.css", pdf._static_root(), pdf._fetcher(pdf._static_root()))
        assert first is again
        css = "@page { size: 50mm 20mm; margin: 0 }"
        body = pdf.render_pdf("wristband.html", css=(css,), **_label_context())
        assert pdf._generated[css] is pdf._generated_stylesheet(css, "", pdf._fetcher(pdf._static_root()))
    width, height = pdf_tools.page_size_mm(body)
    assert (round(width, 1), round(height, 1)) == (50.0, 20.0)


def test_static_stylesheets_outside_the_static_folder_are_refused(app: Any) -> None:
    with app.test_request_context(), pytest.raises(ValueError):
        pdf.render_pdf("wristband.html", stylesheets=("../../config.py",), **_label_context())


def test_the_fetcher_serves_only_static_files(app: Any, tmp_path: Any) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    with app.app_context():
        fetcher = pdf.StaticOnlyFetcher(pdf._static_root())
        assert fetcher.fetch((pdf._static_root() / "print/label.css").as_uri()).status == 200
        for url in (secret.as_uri(), "http://example.org/x.css", "ftp://example.org/x"):
            with pytest.raises(ValueError):
                fetcher.fetch(url)


def test_pdf_response_is_inline_or_an_attachment() -> None:
    assert pdf.pdf_response(b"%PDF-1.7", "a.pdf", inline=True).headers["Content-Disposition"] == \
        'inline; filename="a.pdf"'
    response = pdf.pdf_response(b"%PDF-1.7", "b.pdf")
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="b.pdf"'


def _label_context() -> dict[str, Any]:
    from datetime import date
    from types import SimpleNamespace

    from app.domain.printing.layout import label_layout

    patient = SimpleNamespace(mrn="10000074", name="DOE, Jane", sex="female", birth_date=date(1990, 1, 2))
    return {"patient": patient, "layout": label_layout("62mm 29mm", patient.mrn, patient.name),
            "sex": "Female", "code128": "", "datamatrix": ""}
