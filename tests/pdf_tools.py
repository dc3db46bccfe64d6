"""Reading PDFs the way a person or a scanner would: poppler's tools for text, fonts and page
size, and zxing-cpp on a 300 dpi rendering for the barcodes."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import zxingcpp
from PIL import Image

MM_PER_PT = 25.4 / 72


def _run(pdf: bytes, tool: list[str], after: tuple[str, ...] = ()) -> str:
    """Run a poppler tool on `pdf` (written to a file: they read files) and return its output."""
    assert pdf.startswith(b"%PDF-"), "not a PDF"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.pdf"
        path.write_bytes(pdf)
        return subprocess.run([*tool, str(path), *after], capture_output=True, text=True,
                              check=True).stdout


def text(pdf: bytes) -> str:
    return _run(pdf, ["pdftotext", "-layout"], ("-",))


def fonts(pdf: bytes) -> list[dict[str, str]]:
    """pdffonts' table: name, type and whether each font is embedded."""
    rows = []
    for line in _run(pdf, ["pdffonts"]).splitlines()[2:]:
        parts = line.split()
        # name, type words..., encoding, emb, sub, uni, object, id
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4]})
    return rows


def page_size_mm(pdf: bytes) -> tuple[float, float]:
    info = _run(pdf, ["pdfinfo"])
    match = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert match, info
    return float(match.group(1)) * MM_PER_PT, float(match.group(2)) * MM_PER_PT


def barcodes(pdf: bytes, dpi: int = 300) -> set[tuple[str, str]]:
    """(format, text) of every barcode a scanner finds on the first page."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", str(source),
                        str(Path(folder) / "page")], check=True)
        with Image.open(Path(folder) / "page.png") as image:
            found = zxingcpp.read_barcodes(image)
    return {(result.format.name, result.text) for result in found}
