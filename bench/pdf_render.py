"""PDF rendering benchmark: a wristband label and a one-page A4 document, warm.

    .venv/bin/python bench/pdf_render.py [--scale small|full]

Renders through the app's own path (app.core.pdf.render_pdf, with its warm FontConfiguration and
cached stylesheets), in an app built on a throwaway SQLite instance, in a process started the way
the web and PDF workers start (gunicorn.conf.py, `flask worker`): a few renders, then
app.core.pdf.warm_up(), gc.collect() and gc.freeze() before anything is measured.

- label: the wristband (layout, Code 128 and DataMatrix SVGs, template, WeasyPrint) on the
  configured stock, cycling through three patients whose names are Latin, accented (Vietnamese)
  and CJK, as a hospital's patients are. CJK names embed a subset of Noto Sans CJK, the costliest
  part of a label, so p95 is a CJK label.
- document: a one-page A4 audit extract (12 events, CJK and accented names among them).

The floor is a blank page rendered by WeasyPrint with the same FontConfiguration in the same run,
at the label's size for the label figures and A4 for the document's. Measurements are interleaved
(label, document, both floors, in turn) so that a busy machine weighs on all of them alike. Each
figure also carries the same renders' CPU time (`cpu`), which tells a slow render from a busy
machine.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCALES = {"small": 60, "full": 600}  # measured renders of each kind
WARMUP = 6
TARGETS_MS = {"label_p95": 30, "document_p95": 150}
PATIENTS = (("Smith", "John", "male"), ("Nguyễn", "Thị Mai", "female"), ("王", "秀英", "female"))
DOCUMENT_ROWS = 12  # audit events: what fits on one landscape A4 page


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


CPU: dict[str, list[float]] = {}  # the same renders' CPU time, printed for context


def timed(fn: Callable[[], Any], kind: str) -> float:
    """Wall-clock milliseconds of one render (what a person waits); its CPU time is kept too,
    to tell a slow render from a busy machine."""
    cpu, start = time.thread_time(), time.perf_counter()
    fn()
    elapsed = (time.perf_counter() - start) * 1000
    CPU.setdefault(kind, []).append((time.thread_time() - cpu) * 1000)
    return elapsed


def pages(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def build_app(folder: Path) -> Any:
    from app import create_app

    return create_app("test", DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
                      INSTANCE_PATH=str(folder / "instance"))


def prepare() -> tuple[list[Any], Callable[[], bytes]]:
    """In the app's context: the schema, patients, and the one-page document's renderer."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app.core.audit import AuditEvent
    from app.core.pdf import render_pdf
    from app.core.security import SYSTEM
    from app.domain.oversight.services import AuditFilter, mrns_for
    from app.domain.patients import services as patients
    from app.extensions import db

    upgrade()
    made = []
    for i in range(DOCUMENT_ROWS):
        family, given, sex = PATIENTS[i % len(PATIENTS)]
        made.append(patients.register_patient(db.session, SYSTEM, patients.Demographics(
            family_name=family if i < len(PATIENTS) else f"{family}{i}", given_names=given,
            birth_date=date(1950 + i, 1 + i % 12, 1 + i), sex=sex)))
    db.session.commit()
    rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq).limit(DOCUMENT_ROWS)))
    mrns = mrns_for(db.session, rows)

    def document() -> bytes:
        return render_pdf("audit_extract.html", rows=rows, mrns=mrns, truncated=False,
                          filter=AuditFilter(action="patient."), printed_by="Bench Marker (bench)")

    return made[: len(PATIENTS)], document


def measure(app: Any, n: int) -> tuple[dict[str, list[float]], dict[int, list[float]]]:
    from weasyprint import HTML

    from app.core.pdf import font_config, warm_up
    from app.domain.printing.services import render_wristband

    label_patients, document = prepare()
    size = app.config["PRINT_LABEL_SIZE"]
    blank_label = f"<style>@page {{ size: {size}; margin: 0 }}</style>"
    blank_a4 = "<style>@page { size: A4 landscape }</style>"
    assert pages(document()) == 1, "the document must fit on one page"

    def label(i: int) -> bytes:
        return render_wristband(label_patients[i % len(label_patients)], size)

    def floor(html: str) -> bytes:
        return bytes(HTML(string=html).write_pdf(font_config=font_config()))

    for i in range(WARMUP):
        label(i), document(), floor(blank_label), floor(blank_a4)
    warm_up()  # as a worker starts (gunicorn.conf.py)
    gc.collect()
    gc.freeze()
    times: dict[str, list[float]] = {"label": [], "document": [], "floor_label": [],
                                     "floor_document": []}
    by_name: dict[int, list[float]] = {i: [] for i in range(len(PATIENTS))}
    for i in range(n):
        elapsed = timed(partial(label, i), "label")
        times["label"].append(elapsed)
        by_name[i % len(PATIENTS)].append(elapsed)
        times["document"].append(timed(document, "document"))
        times["floor_label"].append(timed(partial(floor, blank_label), "floor_label"))
        times["floor_document"].append(timed(partial(floor, blank_a4), "floor_document"))
    return times, by_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    args = parser.parse_args()
    n = SCALES[args.scale]

    from app.extensions import db

    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        app = build_app(Path(tmp))
        with app.app_context():  # as a worker holds its app for its whole life
            times, by_name = measure(app, n)
            db.session.remove()
            db.engine.dispose()

    for i, (family, given, _) in enumerate(PATIENTS):
        values = by_name[i]
        print(f"label {family.upper()}, {given}: p50 {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms")
    for kind, values in CPU.items():
        print(f"cpu {kind}: p50 {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms")

    def figure(kind: str, q: int) -> dict[str, Any]:
        return {"value": round(percentile(times[kind], q), 1), "unit": "ms",
                "target": TARGETS_MS.get(f"{kind}_p{q}"),
                "floor": round(percentile(times[f"floor_{kind}"], q), 1),
                "cpu": round(percentile(CPU[kind], q), 1),
                "floor_cpu": round(percentile(CPU[f"floor_{kind}"], q), 1)}

    result = {"bench": "pdf_render", "scale": args.scale, "figures": {
        "label_p50": figure("label", 50), "label_p95": figure("label", 95),
        "document_p50": figure("document", 50), "document_p95": figure("document", 95),
    }}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
