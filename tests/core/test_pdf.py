"""Rendering PDFs: page sizes from config, stylesheets parsed once, nothing outside static/,
the lean user-agent stylesheet only where it prints the same, the collector paused per render."""

from __future__ import annotations

import gc
import re
import subprocess
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader

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


def test_the_fetcher_serves_data_uris(app: Any) -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1mm" height="1mm"/>'
    with app.app_context():
        fetcher = pdf.StaticOnlyFetcher(pdf._static_root())
        response = fetcher.fetch(pdf.svg_data_uri(svg))
        assert response.headers["Content-Type"] == "image/svg+xml" and response.read() == svg.encode()
        plain = fetcher.fetch("data:text/css,p%20%7B%20color%3A%20red%20%7D")  # through urllib
        assert plain.read() == b"p { color: red }"


def test_pdf_response_is_inline_or_an_attachment() -> None:
    assert pdf.pdf_response(b"%PDF-1.7", "a.pdf", inline=True).headers["Content-Disposition"] == \
        'inline; filename="a.pdf"'
    response = pdf.pdf_response(b"%PDF-1.7", "b.pdf")
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="b.pdf"'


def _label_context() -> dict[str, Any]:
    from datetime import date
    from types import SimpleNamespace

    from app.core import barcodes
    from app.domain.printing.layout import label_layout

    patient = SimpleNamespace(mrn="10000074", name="DOE, Jane", sex="female", birth_date=date(1990, 1, 2))
    layout = label_layout("62mm 29mm", patient.mrn, patient.name)
    return {"patient": patient, "layout": layout, "sex": "Female",
            "code128": pdf.svg_data_uri(barcodes.code128_svg(
                patient.mrn, module_width=layout.code128_module, bar_height=layout.code128_height,
                human_readable=False)),
            "datamatrix": pdf.svg_data_uri(barcodes.datamatrix_svg(
                patient.mrn, module_size=layout.datamatrix_module))}


# --- templates naming their stylesheets ------------------------------------------------------

def _audit_rows() -> list[Any]:
    def event(seq: int, name: str) -> Any:
        changes = [("family_name", None, name), ("sex", "unknown", "female")]
        return SimpleNamespace(
            seq=seq, occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), actor_label="Bob Clerk (bob)",
            action="patient.registered", entity_type="patient", entity_id=seq, patient_id=seq,
            reason="", hash="ab" * 32, changes=lambda changes=changes: changes)

    return [event(1, "王"), event(2, "Nguyễn"), event(3, "Smith")]


def _audit_extract(**extra: Any) -> bytes:
    return pdf.render_pdf("audit_extract.html", rows=_audit_rows(), mrns={1: "10000008"},
                          truncated=False, filter=SimpleNamespace(action="patient."),
                          printed_by="Ada Admin (ada)", **extra)


def test_a_template_names_its_static_stylesheets_which_are_parsed_once(app: Any) -> None:
    with app.app_context():
        first = _audit_extract()
        sheets = [sheet for (path, _), sheet in pdf._stylesheets.items() if path.name == "document.css"]
        _audit_extract()
        again = [sheet for (path, _), sheet in pdf._stylesheets.items() if path.name == "document.css"]
    assert len(sheets) == 1 and again == sheets and again[0] is sheets[0]
    width, height = pdf_tools.page_size_mm(first)
    assert (round(width), round(height)) == (297, 210)  # A4 landscape, from the template's <style>
    text = pdf_tools.text(first)
    assert "Audit extract" in text and "10000008" in text and "family_name: 王" in text
    assert "Page 1 of 1" in text  # document.css's page footer


def _words(body: bytes) -> list[tuple[float, float, str]]:
    """(x, y, word) of every word on the first page, in points, as pdftotext reads them."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(body)
        html = subprocess.run(["pdftotext", "-bbox", str(source), "-"], capture_output=True,
                              text=True, check=True).stdout
    return [(float(x), float(y), word) for x, y, word in
            re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', html)]


def test_the_audit_extract_lines_its_events_up_in_columns(app: Any) -> None:
    with app.app_context():
        words = _words(_audit_extract())
    heading = next(y for _, y, word in words if word == "#")
    lefts = {word: x for x, y, word in words if y == heading and word in ("#", "When", "Who")}
    assert lefts["#"] < lefts["When"] < lefts["Who"]
    lines = sorted({y for _, y, word in words if word == "2026-01-02"})
    assert len(lines) == 3
    for seq, line in enumerate(lines, start=1):
        first, time = sorted((x, word) for x, y, word in words if y == line)[:2]
        who = next(x for x, y, word in words if y == line and word == "Bob")  # "Bob Clerk (bob)"
        # Each within 2 pt (0.7 mm) of its heading: a column, not a ragged edge.
        assert first[1] == str(seq) and abs(first[0] - lefts["#"]) < 2
        assert time[1] == "2026-01-02" and abs(time[0] - lefts["When"]) < 2
        assert abs(who - lefts["Who"]) < 2


def _with_templates(app: Any, monkeypatch: Any, **templates: str) -> None:
    loader = ChoiceLoader([DictLoader({f"print/{name}": body for name, body in templates.items()}),
                           app.jinja_env.loader])
    monkeypatch.setattr(app.jinja_env, "loader", loader)
    app.jinja_env.cache.clear()


def test_a_stylesheet_named_outside_the_static_folder_is_refused(app: Any, monkeypatch: Any) -> None:
    _with_templates(app, monkeypatch, **{"x.html": '{{ stylesheet("../../config.py") }}<p>x</p>'})
    with app.app_context(), pytest.raises(ValueError):
        pdf.render_pdf("x.html")


# --- the lean user-agent stylesheet ----------------------------------------------------------

def _pixels(body: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(body)
        subprocess.run(["pdftoppm", "-r", "100", "-gray", "-singlefile", str(source),
                        str(Path(folder) / "page")], check=True)
        return (Path(folder) / "page.pgm").read_bytes()


def _lean_and_full(render: Any, monkeypatch: Any) -> tuple[bytes, bytes]:
    lean = render()
    with monkeypatch.context() as patch:
        patch.setattr(pdf, "_LEAN_UA", None)
        full = render()
    return lean, full


def test_the_printouts_are_the_same_with_the_lean_user_agent_stylesheet(app: Any, monkeypatch: Any) -> None:
    assert pdf._LEAN_UA is not None, "WeasyPrint's user-agent stylesheet changed: re-check app/core/pdf.py"
    seen: list[type] = []
    real = pdf._document

    def spy(*args: Any) -> Any:
        document = real(*args)
        seen.append(type(document))
        return document

    monkeypatch.setattr(pdf, "_document", spy)
    with app.app_context():
        for render in (_audit_extract, lambda: pdf.render_pdf("wristband.html", stylesheets=("print/label.css",),
                                                                css=(_label_context()["layout"].stylesheet(),),
                                                                **_label_context())):
            lean, full = _lean_and_full(render, monkeypatch)
            assert _pixels(lean) == _pixels(full)
    assert seen == [pdf._LeanHTML, pdf.HTML] * 2


def test_the_lean_user_agent_stylesheet_is_built_without_warnings(caplog: Any) -> None:
    with caplog.at_level("WARNING", logger="weasyprint"):
        assert pdf._lean_user_agent_stylesheet() is not None
    assert caplog.records == []


LIST = "<ol><li>Wristband</li><li>Chart</li></ol><ul><li>Notes</li></ul>"
FOOTNOTE = "<p>Consent on file<span style='float: footnote'>Signed 2 Jan</span></p>"
LIST_ITEM_DIV = "<div style='display: list-item; margin-left: 2em'>Chart</div>"


def test_list_markers_print_as_with_the_full_stylesheet(app: Any, monkeypatch: Any) -> None:
    _with_templates(app, monkeypatch, **{"list.html": LIST})
    with app.app_context():
        lean, full = _lean_and_full(lambda: pdf.render_pdf("list.html"), monkeypatch)
    assert _pixels(lean) == _pixels(full)
    assert "1. Wristband" in pdf_tools.text(lean) and "2. Chart" in pdf_tools.text(lean)


@pytest.mark.parametrize("body", [FOOTNOTE, LIST_ITEM_DIV], ids=["footnote", "list-item"])
def test_pages_with_footnotes_or_other_list_items_get_the_full_stylesheet(
    app: Any, monkeypatch: Any, body: str
) -> None:
    _with_templates(app, monkeypatch, **{"page.html": body})
    with app.app_context():
        printed = pdf.render_pdf("page.html")
        with monkeypatch.context() as patch:
            patch.setattr(pdf, "_LEAN_UA", None)
            full = pdf.render_pdf("page.html")
    assert _pixels(printed) == _pixels(full)
    assert type(pdf._document(body, "", None, [])) is pdf.HTML  # type: ignore[arg-type]
    if body == FOOTNOTE:
        assert "Signed 2 Jan" in pdf_tools.text(printed)


def test_a_stylesheet_with_footnotes_gets_the_full_stylesheet(app: Any, monkeypatch: Any) -> None:
    css = ".note { float: footnote }"
    _with_templates(app, monkeypatch, **{"page.html": "<p>Consent<span class='note'>Signed</span></p>"})
    with app.app_context():
        assert "Signed" in pdf_tools.text(pdf.render_pdf("page.html", css=(css,)))
        assert not pdf._generated[css].lean


# --- the garbage collector -------------------------------------------------------------------

def test_the_collector_is_paused_during_a_render_and_resumes_after(app: Any, monkeypatch: Any) -> None:
    during: list[bool] = []
    _with_templates(app, monkeypatch, **{"gc.html": "<p>{{ probe() }}</p>"})
    with app.app_context():
        pdf.render_pdf("gc.html", probe=lambda: during.append(gc.isenabled()) or "")
        assert during == [False] and gc.isenabled()
        gc.disable()
        try:
            pdf.render_pdf("gc.html", probe=lambda: "")
            assert not gc.isenabled()  # left as the caller had it
        finally:
            gc.enable()


def test_concurrent_renders_resume_the_collector_when_the_last_ends(app: Any, monkeypatch: Any) -> None:
    first_inside, release = threading.Event(), threading.Event()
    _with_templates(app, monkeypatch, **{"gc.html": "<p>{{ probe() }}</p>"})

    def slow() -> str:
        first_inside.set()
        release.wait(10)
        return ""

    def render(probe: Any) -> None:
        with app.app_context():
            pdf.render_pdf("gc.html", probe=probe)

    thread = threading.Thread(target=render, args=(slow,))
    thread.start()
    assert first_inside.wait(10)
    render(lambda: "")  # starts and ends while the other render is still running
    assert not gc.isenabled()
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_warm_up_loads_the_fonts_and_leaves_the_collector_on() -> None:
    pdf.warm_up()
    assert gc.isenabled() and pdf.font_config() is pdf.font_config()
