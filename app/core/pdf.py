"""PDFs from Jinja templates in templates/print/, through WeasyPrint.

The URL fetcher serves only the app's own static files (and data: URIs), so a printed
template can never reach the network or read arbitrary files.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.core import clock

_fonts: FontConfiguration | None = None


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


def render_pdf(template: str, **context: Any) -> bytes:
    """Render templates/print/<template> to PDF bytes."""
    global _fonts
    context.setdefault("now", clock.now())
    context.setdefault("page_size", current_app.config["PRINT_PAGE_SIZE"])
    html = render_template(f"print/{template}", **context)
    static_root = Path(current_app.static_folder or "static")
    if _fonts is None:
        _fonts = FontConfiguration()
    document = HTML(
        string=html,
        base_url=static_root.resolve().as_uri() + "/",
        url_fetcher=StaticOnlyFetcher(static_root),
    )
    return bytes(document.write_pdf(font_config=_fonts))
