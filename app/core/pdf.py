"""PDFs from Jinja templates in templates/print/, through WeasyPrint.

The URL fetcher serves only the app's own static files (and data: URIs), so a printed
template can never reach the network or read arbitrary files.

Rendering is kept warm and lean (each measured: docs/benchmarks.md, "Printing"):

- one FontConfiguration for the process (fontconfig's font list is built once), one URL fetcher
  per static folder, and stylesheets parsed once and reused: static ones passed as
  `stylesheets=` or named by the template with `{{ stylesheet("print/x.css") }}` (never a
  <link>, which WeasyPrint fetches and parses on every render), generated ones as `css=`;
- fonts embedded more cheaply than WeasyPrint does by itself (app.core.font_subset);
- a user-agent stylesheet without the rules that give every element of the page its own
  ::marker, ::footnote-* and ::note-* styles, which WeasyPrint otherwise computes for each
  element (half of the style time of a table) though only list items, footnotes and notes use
  them: kept for <li>, and the full stylesheet is used for any page that mentions list items,
  footnotes or notes;
- the garbage collector paused while WeasyPrint builds a page (it allocates hundreds of
  thousands of objects, which made the collector run full collections of the whole process
  every few renders) and one young-generation collection after it.
"""

from __future__ import annotations

import base64
import gc
import mimetypes
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import weasyprint
from flask import Response, current_app
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.css.counters import CounterStyle
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.core import clock, font_subset

font_subset.install()

_fonts: FontConfiguration | None = None
_stylesheets: dict[tuple[Path, int], _Sheet] = {}
_generated: dict[str, _Sheet] = {}
_GENERATED_MAX = 64
_local = threading.local()
_lock = threading.Lock()


_BASE64_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=]*)")


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, static_root: Path) -> None:
        super().__init__(allowed_protocols={"file", "data"}, fail_on_errors=False)
        self.static_root = static_root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            if match := _BASE64_DATA_URI.fullmatch(url):
                # What svg_data_uri makes (a barcode): decoded here, where urllib would build an
                # opener and read the proxy settings for each image of each page.
                return URLFetcherResponse(url, base64.b64decode(match[2], validate=True),
                                          {"Content-Type": match[1]})
            return super().fetch(url, headers)
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise ValueError(f"blocked non-static URL: {parts.scheme}:")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.static_root) or not path.is_file():
            raise ValueError("blocked: outside the static folder")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})


def font_config() -> FontConfiguration:
    """The process's one FontConfiguration (building one costs a fontconfig scan)."""
    global _fonts
    if _fonts is None:
        with _lock:
            if _fonts is None:
                _fonts = FontConfiguration()
    return _fonts


def _static_root() -> Path:
    return Path(current_app.static_folder or "static").resolve()


def _fetcher(static_root: Path) -> StaticOnlyFetcher:
    """This thread's fetcher (a urllib opener keeps per-request state, so threads don't share)."""
    fetchers: dict[Path, StaticOnlyFetcher] = _local.__dict__.setdefault("fetchers", {})
    fetcher = fetchers.get(static_root)
    if fetcher is None:
        fetcher = fetchers[static_root] = StaticOnlyFetcher(static_root)
    return fetcher


# --- the user-agent stylesheet --------------------------------------------------------------

# What needs WeasyPrint's full user-agent stylesheet: list items other than <li> (their marker),
# footnotes and notes (their calls and markers).
_NEEDS_FULL_UA = re.compile(r"list-item|footnote|note\(", re.IGNORECASE)
# The rules the lean stylesheet leaves out: one pseudo-element selector each, matching every
# element of a page.
_UNIVERSAL_PSEUDO_RULES = ("::marker", "::footnote-call", "::footnote-marker", "::note-call",
                           "::note-marker", "::note-callback")


def _lean_user_agent_stylesheet() -> CSS | None:
    """WeasyPrint's user-agent stylesheet without its universal pseudo-element rules (the
    ::marker one kept for <li>); None where WeasyPrint's stylesheet is not as checked."""
    if weasyprint.__version__ != font_subset.CHECKED_WEASYPRINT:
        return None
    from weasyprint import html as weasyprint_html

    kept: list[str] = []
    dropped: list[str] = []
    for line in weasyprint_html.UA.splitlines():
        (dropped if line.startswith("::") else kept).append(line)
    if sorted(line.split()[0] for line in dropped) != sorted(_UNIVERSAL_PSEUDO_RULES):
        return None
    kept += ["li" + line for line in dropped if line.startswith("::marker ")]
    # Its @counter-style rules are already in WeasyPrint's UA_COUNTER_STYLE, which pages use;
    # parsed into that again, "disc" and "decimal" would be refused as redefinitions.
    return CSS(string="\n".join(kept), counter_style=CounterStyle())


_LEAN_UA = _lean_user_agent_stylesheet()


class _LeanHTML(HTML):
    """A page that uses nothing the lean user-agent stylesheet leaves out."""

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        assert _LEAN_UA is not None
        return [_LEAN_UA, *super()._ua_stylesheets(forms)[1:]]


def _document(html: str, base_url: str, fetcher: URLFetcher, sheets: Sequence[_Sheet]) -> HTML:
    lean = _LEAN_UA is not None and all(sheet.lean for sheet in sheets) and \
        not _NEEDS_FULL_UA.search(html)
    return (_LeanHTML if lean else HTML)(string=html, base_url=base_url, url_fetcher=fetcher)


# --- stylesheets, parsed once --------------------------------------------------------------

@dataclass(frozen=True)
class _Sheet:
    css: CSS
    lean: bool  # whether it leaves the page to the lean user-agent stylesheet


def _stylesheet(relative: str, static_root: Path, fetcher: URLFetcher) -> _Sheet:
    """A static stylesheet, parsed once per version of the file."""
    path = (static_root / relative).resolve()
    if not path.is_relative_to(static_root) or not path.is_file():
        raise ValueError(f"no stylesheet {relative!r} in the static folder")
    key = (path, path.stat().st_mtime_ns)
    sheet = _stylesheets.get(key)
    if sheet is None:
        source = path.read_text(encoding="utf-8")
        sheet = _Sheet(CSS(string=source, base_url=path.as_uri(), url_fetcher=fetcher,
                           font_config=font_config()),
                       lean=not _NEEDS_FULL_UA.search(source))
        with _lock:
            for stale in [k for k in _stylesheets if k[0] == path]:
                del _stylesheets[stale]
            _stylesheets[key] = sheet
    return sheet


def _generated_stylesheet(source: str, base_url: str, fetcher: URLFetcher) -> _Sheet:
    """A stylesheet generated from values (a label's geometry), parsed once per distinct text."""
    sheet = _generated.get(source)
    if sheet is None:
        sheet = _Sheet(CSS(string=source, base_url=base_url, url_fetcher=fetcher,
                           font_config=font_config()),
                       lean=not _NEEDS_FULL_UA.search(source))
        with _lock:
            while len(_generated) >= _GENERATED_MAX:
                _generated.pop(next(iter(_generated)))
            _generated[source] = sheet
    return sheet


# --- the garbage collector -----------------------------------------------------------------

_paused = 0
_collector_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection while a PDF is built, then one of the youngest objects.

    A page's layout allocates hundreds of thousands of objects that live until it is written;
    with the collector on, they are scanned over and over and pushed into the old generation,
    and every few renders that triggers a full collection of every object in the process
    (~100 ms). Paused, they stay young, most are freed by reference counting as the render ends,
    and one young collection (a few ms) frees the cycles. Shared by concurrent renders (the
    collector is per process): it resumes when the last one ends."""
    global _paused, _collector_was_enabled
    with _lock:
        if _paused == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _collector_was_enabled:
                gc.enable()
        gc.collect(0)


# --- rendering -----------------------------------------------------------------------------

def render_pdf(
    template: str, stylesheets: Sequence[str] = (), css: Sequence[str] = (), **context: Any
) -> bytes:
    """Render templates/print/<template> to PDF bytes.

    `stylesheets` are paths under the static folder (e.g. "print/label.css") and `css` is
    stylesheet text; both apply after the template's own styles and are parsed once, so prefer
    them to a <link> or a <style> for anything printed often. A template names its own static
    stylesheets with `{{ stylesheet("print/document.css") }}` (they apply first)."""
    context.setdefault("now", clock.now())
    context.setdefault("page_size", current_app.config["PRINT_PAGE_SIZE"])
    named: list[str] = []

    def stylesheet(relative: str) -> Markup:
        named.append(relative)
        return Markup("")

    context["stylesheet"] = stylesheet
    with _collector_paused():
        # Straight from the Jinja environment: the web's context processors (the signed-in
        # user, the navigation) mean nothing on paper, and a job renders with no request at all.
        html = current_app.jinja_env.get_template(f"print/{template}").render(context)
        static_root = _static_root()
        base_url = static_root.as_uri() + "/"
        fetcher = _fetcher(static_root)
        sheets = [_stylesheet(s, static_root, fetcher) for s in (*named, *stylesheets)]
        sheets += [_generated_stylesheet(source, base_url, fetcher) for source in css]
        document = _document(html, base_url, fetcher, sheets)
        return bytes(document.write_pdf(font_config=font_config(),
                                        stylesheets=[sheet.css for sheet in sheets] or None))


def warm_up() -> None:
    """Load what the first PDF of a process would: fontconfig's font list, WeasyPrint's own
    stylesheets and code, and the fonts printouts use (Latin, accented and CJK text). For a
    worker about to freeze its long-lived objects (gc.freeze) before serving."""
    html = ("<p style='font-family: DejaVu Sans, Noto Sans, Noto Sans CJK SC, sans-serif'>"
            "Aa Ễ 王 <b>Aa Ễ 王</b></p>")
    with _collector_paused():
        document = (_LeanHTML if _LEAN_UA is not None else HTML)(string=html)
        document.write_pdf(font_config=font_config())


def pdf_response(pdf: bytes, filename: str, inline: bool = False) -> Response:
    """A PDF for the browser: shown in its viewer (`inline`, e.g. a label to print now) or
    saved as `filename`."""
    response = Response(pdf, mimetype="application/pdf")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def svg_data_uri(svg: str) -> str:
    """An SVG as a data: URI for an <img>. WeasyPrint parses an image's SVG once with a fast
    XML parser, where inline <svg> markup would go through the HTML parser and the CSS cascade
    element by element (a barcode has dozens of elements)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def svg_from_data_uri(uri: str) -> str:
    """The SVG markup of a data: URI made by svg_data_uri."""
    match = _BASE64_DATA_URI.fullmatch(uri)
    if match is None or match[1] != "image/svg+xml":
        raise ValueError("not an SVG data: URI")
    return base64.b64decode(match[2], validate=True).decode("utf-8")


# --- page sizes ----------------------------------------------------------------------------

_MM_PER_UNIT = {"mm": 1.0, "cm": 10.0, "q": 0.25, "in": 25.4, "pt": 25.4 / 72,
                "pc": 25.4 / 6, "px": 25.4 / 96}
# CSS Paged Media's named sizes, portrait (width, height) in millimetres.
_NAMED_SIZES = {"a5": (148.0, 210.0), "a4": (210.0, 297.0), "a3": (297.0, 420.0),
                "b5": (176.0, 250.0), "b4": (250.0, 353.0), "jis-b5": (182.0, 257.0),
                "jis-b4": (257.0, 364.0), "letter": (215.9, 279.4), "legal": (215.9, 355.6),
                "ledger": (279.4, 431.8)}
_LENGTH = re.compile(r"^(\d+(?:\.\d+)?)(mm|cm|q|in|pt|pc|px)$")


def _length_mm(token: str) -> float:
    match = _LENGTH.match(token)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a page length: {token!r}")
    return float(match.group(1)) * _MM_PER_UNIT[match.group(2)]


def page_size_mm(size: str) -> tuple[float, float]:
    """(width, height) in millimetres of a CSS `@page { size: ... }` value: one or two lengths
    ("62mm 29mm", "4in"), or a named size with an optional orientation ("A4 landscape")."""
    tokens = size.strip().lower().split()
    orientation = None
    if tokens and tokens[-1] in ("portrait", "landscape"):
        orientation = tokens.pop()
    if len(tokens) == 1 and tokens[0] in _NAMED_SIZES:
        width, height = _NAMED_SIZES[tokens[0]]
    elif orientation is None and len(tokens) in (1, 2):
        width = _length_mm(tokens[0])
        height = _length_mm(tokens[-1])
        return round(width, 3), round(height, 3)
    else:
        raise ValueError(f"not a page size: {size!r}")
    if orientation == "landscape":
        width, height = height, width
    return width, height
