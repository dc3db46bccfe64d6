"""PDFs from Jinja templates in templates/print/, through WeasyPrint.

The URL fetcher serves only the app's own static files (and data: URIs), so a printed
template can never reach the network or read arbitrary files.

Rendering is kept warm: one FontConfiguration for the process (fontconfig's font list is
built once), one URL fetcher per static folder, and stylesheets passed as `stylesheets=`
(static files) or `css=` (generated text) parsed once and reused. Fonts are subset in one
HarfBuzz pass where WeasyPrint makes two (app.core.font_subset).
"""

from __future__ import annotations

import base64
import mimetypes
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Response, current_app
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.core import clock, font_subset

font_subset.install()

_fonts: FontConfiguration | None = None
_stylesheets: dict[tuple[Path, int], CSS] = {}
_generated: dict[str, CSS] = {}
_GENERATED_MAX = 64
_local = threading.local()
_lock = threading.Lock()


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, static_root: Path) -> None:
        super().__init__(allowed_protocols={"file", "data"}, fail_on_errors=False)
        self.static_root = static_root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
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


def _stylesheet(relative: str, static_root: Path, fetcher: URLFetcher) -> CSS:
    """A static stylesheet, parsed once per version of the file."""
    path = (static_root / relative).resolve()
    if not path.is_relative_to(static_root) or not path.is_file():
        raise ValueError(f"no stylesheet {relative!r} in the static folder")
    key = (path, path.stat().st_mtime_ns)
    css = _stylesheets.get(key)
    if css is None:
        css = CSS(filename=str(path), url_fetcher=fetcher, font_config=font_config())
        with _lock:
            for stale in [k for k in _stylesheets if k[0] == path]:
                del _stylesheets[stale]
            _stylesheets[key] = css
    return css


def _generated_stylesheet(source: str, base_url: str, fetcher: URLFetcher) -> CSS:
    """A stylesheet generated from values (a label's geometry), parsed once per distinct text."""
    css = _generated.get(source)
    if css is None:
        css = CSS(string=source, base_url=base_url, url_fetcher=fetcher, font_config=font_config())
        with _lock:
            while len(_generated) >= _GENERATED_MAX:
                _generated.pop(next(iter(_generated)))
            _generated[source] = css
    return css


def render_pdf(
    template: str, stylesheets: Sequence[str] = (), css: Sequence[str] = (), **context: Any
) -> bytes:
    """Render templates/print/<template> to PDF bytes.

    `stylesheets` are paths under the static folder (e.g. "print/label.css") and `css` is
    stylesheet text; both apply after the template's own styles and are parsed once, so prefer
    them to a <link> or a <style> for anything printed often."""
    context.setdefault("now", clock.now())
    context.setdefault("page_size", current_app.config["PRINT_PAGE_SIZE"])
    # Straight from the Jinja environment: the web's context processors (the signed-in user,
    # the navigation) mean nothing on paper, and a job renders with no request at all.
    html = current_app.jinja_env.get_template(f"print/{template}").render(context)
    static_root = _static_root()
    base_url = static_root.as_uri() + "/"
    fetcher = _fetcher(static_root)
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    sheets = [_stylesheet(s, static_root, fetcher) for s in stylesheets]
    sheets += [_generated_stylesheet(source, base_url, fetcher) for source in css]
    return bytes(document.write_pdf(font_config=font_config(), stylesheets=sheets or None))


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
