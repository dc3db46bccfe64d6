"""Pharmacy label benchmark: a sheet of 20 dispensing labels and a single label, warm.

    .venv/bin/python bench/pharmacy_labels.py [--scale small|full]

Renders through the app's own path (app.domain.dispensary.labels.render_labels: the plain-words
directions, the label geometry that fits the patient's name, the drug and the directions, the
Code 128, the template and WeasyPrint with its warm FontConfiguration and cached stylesheets),
in an app built on a throwaway SQLite instance, in a process prepared the way the web and PDF
workers are (a few renders, then app.core.pdf.warm_up(), gc.collect() and gc.freeze()), as
bench/pdf_render.py does.

- sheet: an A4 sheet of 20 labels for one dispensing (the bag's label and 19 packs of 28 tablets
  from two batches) on the configured stock (PHARMACY_LABEL_SIZE, 24 to a page).
- label: one dispensing label on label stock.

Both cycle through three patients whose names are Latin, accented (Vietnamese) and CJK. The
floor is a blank page rendered by WeasyPrint with the same FontConfiguration in the same run, at
A4 for the sheet and at the label's size for the label. Measurements are interleaved (sheet,
label, both floors, in turn) so that a busy machine weighs on all of them alike; each figure
also carries the same renders' CPU time (`cpu`).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pdf_render import CPU, build_app, pages, percentile, timed  # noqa: E402

SCALES = {"small": 40, "full": 400}  # measured renders of each kind
WARMUP = 6
TARGETS_MS = {"sheet_p95": 500}
PATIENTS = (("Smith", "John", "male"), ("Nguyễn", "Thị Mai", "female"), ("王", "秀英", "female"))
PACK = 28
SHEET_LABELS = 20


def prepare() -> list[tuple[Any, Any, Any]]:
    """In the app's context: the schema, a drug with stock, and per patient a prescription and
    a dispensing of 19 packs from two batches. Returns (dispensing, patient, prescription)."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app.core import clock
    from app.core.identifiers import next_value, with_luhn
    from app.core.security import SYSTEM
    from app.domain.dispensary import ledger
    from app.domain.dispensary.models import (
        MAIN_PHARMACY,
        Dispensing,
        DispensingLine,
        StockBatch,
        StockLocation,
    )
    from app.domain.formulary.models import Drug
    from app.domain.identity import services as identity
    from app.domain.patients import services as patients
    from app.domain.prescribing.models import Prescription
    from app.extensions import db

    upgrade()
    s = db.session
    main = s.scalar(select(StockLocation).where(StockLocation.code == MAIN_PHARMACY))
    drug = Drug(code="BENCH1", code_system="local", name="Paracetamol 500 MG Oral Tablet",
                generic_name="paracetamol", form="Oral Tablet", strength="500 MG", route="oral",
                dose_unit="mg", stock_unit="tablet", dose_per_stock_unit=Decimal("500"),
                pack_size=PACK)
    s.add(drug)
    doctor, _ = identity.create_user(s, SYSTEM, username="bench_doctor", full_name="Bench Doctor",
                                     roles=["doctor"], ward_ids=[], password="correct horse battery")
    pharmacist, _ = identity.create_user(s, SYSTEM, username="bench_pharmacist",
                                         full_name="Bench Pharmacist", roles=["pharmacist"],
                                         ward_ids=[], password="correct horse battery")
    s.flush()
    batches = []
    for i, expiry in enumerate((date.today() + timedelta(days=200), date.today() + timedelta(days=700))):
        b = StockBatch(drug_id=drug.id, location_id=main.id, batch_number=f"BN{i}2026X",
                       expiry=expiry, quantity=0)
        s.add(b)
        s.flush()
        ledger.post(s, SYSTEM, b.id, 10_000, "receipt", reference="bench")
        batches.append(b)
    made = []
    for family, given, sex in PATIENTS:
        patient = patients.register_patient(s, SYSTEM, patients.Demographics(
            family_name=family, given_names=given, birth_date=date(1960, 3, 1), sex=sex),
            check_duplicates=False)
        quantity = (SHEET_LABELS - 1) * PACK
        rx = Prescription(
            number=with_luhn(next_value(s, "prescription", start=1000000)), patient_id=patient.id,
            setting="outpatient", drug_id=drug.id, dose=Decimal("1000"), dose_unit="mg",
            route="oral", frequency="QID", prn=True, prn_min_interval_minutes=240,
            prn_max_daily_doses=4, indication="pain", start_at=clock.now(), quantity=quantity,
            instructions="Do not take with other medicines containing paracetamol",
            prescriber_id=doctor.id, status="active", verification="verified")
        s.add(rx)
        s.flush()
        dispensing = Dispensing(number=with_luhn(next_value(s, "dispensing", start=5000000)),
                                prescription_id=rx.id, patient_id=patient.id, drug_id=drug.id,
                                location_id=main.id, quantity_requested=quantity,
                                quantity=quantity, dispensed_by_id=pharmacist.id)
        s.add(dispensing)
        s.flush()
        first = 9 * PACK
        for b, q in ((batches[0], first), (batches[1], quantity - first)):
            ledger.post(s, SYSTEM, b.id, -q, "dispense", dispensing_id=dispensing.id,
                        patient_id=patient.id)
            s.add(DispensingLine(dispensing_id=dispensing.id, batch_id=b.id, quantity=q))
        s.flush()
        s.refresh(dispensing)
        made.append((dispensing, patient, rx))
    s.commit()
    return made


def measure(app: Any, n: int) -> dict[str, list[float]]:
    from weasyprint import HTML

    from app.core.pdf import font_config, warm_up
    from app.domain.dispensary import labels

    made = prepare()
    size = app.config["PHARMACY_LABEL_SIZE"]
    page = app.config["PRINT_PAGE_SIZE"]
    blank_label = f"<style>@page {{ size: {size}; margin: 0 }}</style>"
    blank_page = f"<style>@page {{ size: {page} }}</style>"

    def sheet(i: int) -> bytes:
        dispensing, patient, rx = made[i % len(made)]
        batches = labels._batches(dispensing)
        items = labels.sheet_labels(batches, dispensing.drug.pack_size)
        assert len(items) == SHEET_LABELS
        return labels.render_labels(dispensing, patient, rx, items, sheet=True, copy=1)

    def label(i: int) -> bytes:
        dispensing, patient, rx = made[i % len(made)]
        return labels.render_labels(dispensing, patient, rx,
                                    [labels.bag_label(labels._batches(dispensing))],
                                    sheet=False, copy=1)

    def floor(html: str) -> bytes:
        return bytes(HTML(string=html).write_pdf(font_config=font_config()))

    assert pages(sheet(0)) == 1, "20 labels must fit on one sheet"
    for i in range(WARMUP):
        sheet(i), label(i), floor(blank_label), floor(blank_page)
    warm_up()
    gc.collect()
    gc.freeze()
    times: dict[str, list[float]] = {"sheet": [], "label": [], "floor_sheet": [], "floor_label": []}
    for i in range(n):
        times["sheet"].append(timed(partial(sheet, i), "sheet"))
        times["label"].append(timed(partial(label, i), "label"))
        times["floor_sheet"].append(timed(partial(floor, blank_page), "floor_sheet"))
        times["floor_label"].append(timed(partial(floor, blank_label), "floor_label"))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    args = parser.parse_args()
    n = SCALES[args.scale]

    from app.extensions import db

    with tempfile.TemporaryDirectory(prefix="bench-labels-") as tmp:
        app = build_app(Path(tmp))
        with app.app_context():
            times = measure(app, n)
            db.session.remove()
            db.engine.dispose()

    for kind, values in times.items():
        print(f"{kind}: p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms")
    for kind, values in CPU.items():
        print(f"cpu {kind}: p50 {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms")

    def figure(kind: str, q: int) -> dict[str, Any]:
        return {"value": round(percentile(times[kind], q), 1), "unit": "ms",
                "target": TARGETS_MS.get(f"{kind}_p{q}"),
                "floor": round(percentile(times[f"floor_{kind}"], q), 1),
                "cpu": round(percentile(CPU[kind], q), 1),
                "floor_cpu": round(percentile(CPU[f"floor_{kind}"], q), 1)}

    result = {"bench": "pharmacy_labels", "scale": args.scale, "figures": {
        "sheet_p50": figure("sheet", 50), "sheet_p95": figure("sheet", 95),
        "label_p50": figure("label", 50), "label_p95": figure("label", 95),
    }}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
