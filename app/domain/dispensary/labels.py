"""Dispensing labels: the label on a supplied medicine, and a sheet of them for one bag.

A label says whose medicine it is, what it is, how to take it in plain words (wording.py), how
much was supplied, the batch and expiry, the date and the pharmacy, with the dispensing number
as a small Code 128 for scanning at the hatch. It is printed on label stock of
PHARMACY_LABEL_SIZE (default 70 x 37 mm, the label of a 24-up A4 sheet).

A sheet (PRINT_PAGE_SIZE, A4) holds, for one dispensing, the bag's label (the whole supply and
its batches) and one label per pack: per dispensing line (batch), ceil(quantity / pack size)
packs when the drug comes in packs of more than one stock unit, else one label for the line (a
pot of loose tablets). Labels fill the page in rows from the top left, as the sheet's label
stock is cut.

Every print goes through the same counter (`Dispensing.label_prints`, incremented with one
UPDATE that also locks the row, so two pharmacists printing at once get copies 1 and 2): the
first print of a dispensing is the original, and every later print, single label or sheet, is
marked REPRINT on every label and in the audit trail (`print.dispensing_label`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import update

from app.core import audit, barcodes
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.pdf import page_size_mm, render_pdf
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import wording
from app.domain.dispensary.models import Dispensing
from app.domain.patients.models import Patient
from app.domain.patients.services import get_patient
from app.domain.prescribing.models import Prescription
from app.domain.printing.layout import ACCENT_ROOM, LINE_HEIGHT, PT_TO_MM, name_size
from app.domain.printing.services import Printout

STYLESHEETS = ("print/dispensing_label.css",)
MAX_SHEET_LABELS = 96  # four pages of the default stock: beyond that, print single labels
MAX_CODE128_MODULE_MM = 0.3
MAX_BATCHES_SHOWN = 3  # on the bag's label; "+ 2 more" after them

# The label's rows, in millimetres of a 37 mm label (scaled for other stock): the header
# (pharmacy, date), the patient, the drug, the directions (the rest), and the foot (quantity,
# batch, expiry on the left; the dispensing number's Code 128 on the right).
PADDING = 1.8
GAP = 0.5
DESIGN_INNER_H = 37 - 2 * PADDING
HEAD_H, PATIENT_H, DRUG_H, FOOT_H = 2.6, 6.2, 5.8, 7.8
HEAD_PT, FOOT_PT = 5.5, 5.8
PATIENT_PT, DRUG_PT, DIRECTIONS_PT = 9.0, 8.0, 8.0


@dataclass(frozen=True)
class LabelGeometry:
    """Where things go on one label, and the type sizes that make its texts fit."""

    width: float
    height: float
    patient_h: float
    patient_pt: float
    drug_h: float
    drug_pt: float
    directions_h: float
    directions_rest: float  # below the directions' last whole line: keeps the foot at the bottom
    directions_pt: float
    code128_module: float
    code128_w: float
    code128_h: float
    scale: float

    def stylesheet(self, page: str, margin: str = "0") -> str:
        s = self.scale
        return "\n".join([
            f"@page {{ size: {page}; margin: {margin}; }}",
            f".plabel {{ width: {self.width:g}mm; height: {self.height:g}mm; "
            f"padding: {PADDING:g}mm; }}",
            f".head {{ height: {HEAD_H * s:.2f}mm; font-size: {HEAD_PT * min(s, 1.2):.1f}pt; }}",
            f".patient {{ height: {self.patient_h:.2f}mm; font-size: {self.patient_pt:g}pt; }}",
            f".drug {{ height: {self.drug_h:.2f}mm; font-size: {self.drug_pt:g}pt; }}",
            f".directions {{ height: {self.directions_h:.2f}mm; "
            f"font-size: {self.directions_pt:g}pt; }}",
            f".foot {{ height: {FOOT_H * s:.2f}mm; font-size: {FOOT_PT * min(s, 1.2):.1f}pt; }}",
            f".code {{ width: {self.code128_w:.2f}mm; }}",
            f".code img {{ width: {self.code128_w:.2f}mm; height: {self.code128_h:.2f}mm; }}",
            f".facts {{ margin-right: {self.code128_w + 1:.2f}mm; }}",
            f".head, .patient, .drug {{ margin-bottom: {GAP:g}mm; }}",
            f".directions {{ margin-bottom: {GAP + self.directions_rest:.2f}mm; }}",
        ])


def _fit(text: str, width: float, height: float, largest: float,
         accent: bool = False) -> tuple[float, float, float]:
    """(font size, content height, height used) for `text` in at most `height` mm: whole
    lines only, so a cut text never shows part of a line. With `accent`, room above the first
    line for stacked accents (a padding of ACCENT_ROOM em, as the wristband's name has)."""
    pt, lines = name_size(text, width, height, largest)
    line = pt * LINE_HEIGHT * PT_TO_MM
    content = round(lines * line, 2)
    return pt, content, content + (ACCENT_ROOM * pt * PT_TO_MM if accent else 0)


def label_geometry(size: str, patient_name: str, drug: str, directions: str,
                   number: str) -> LabelGeometry:
    """The layout of a dispensing label on stock of CSS size `size` ("70mm 37mm")."""
    width, height = page_size_mm(size)
    inner_w, inner_h = width - 2 * PADDING, height - 2 * PADDING
    s = inner_h / DESIGN_INNER_H
    fixed = (HEAD_H + FOOT_H) * s + 4 * GAP
    patient_h, drug_h = PATIENT_H * s, DRUG_H * s
    directions_h = inner_h - fixed - patient_h - drug_h
    if directions_h < 5:
        raise ValueError(f"A {size} label is too small for a dispensing label.")
    patient_pt, patient_box, patient_used = _fit(patient_name, inner_w, patient_h,
                                                 PATIENT_PT * min(s, 1.4), accent=True)
    drug_pt, drug_box, drug_used = _fit(drug, inner_w, drug_h, DRUG_PT * min(s, 1.4))
    # What the patient and drug leave unused goes to the directions.
    directions_h += (patient_h - patient_used) + (drug_h - drug_used)
    directions_pt, directions_box, _ = _fit(directions, inner_w, directions_h,
                                            DIRECTIONS_PT * min(s, 1.4))
    code_w = min(inner_w * 0.42, 30.0)
    module = barcodes.code128_module_width(number, code_w, MAX_CODE128_MODULE_MM)
    code_h = FOOT_H * s - FOOT_PT * min(s, 1.2) * LINE_HEIGHT * PT_TO_MM - 0.8
    return LabelGeometry(
        width=width, height=height, patient_h=patient_box, patient_pt=patient_pt,
        drug_h=drug_box, drug_pt=drug_pt, directions_h=directions_box,
        directions_rest=round(max(0.0, directions_h - directions_box), 2),
        directions_pt=directions_pt, code128_module=module,
        code128_w=round(module * barcodes.code128_modules(number), 2),
        code128_h=round(code_h, 2), scale=s,
    )


def sheet_grid(page: str, label_w: float, label_h: float) -> tuple[int, int, float, float]:
    """(columns, rows, left margin, top margin) of labels on a `page` sheet, centred."""
    page_w, page_h = page_size_mm(page)
    columns, rows = int(page_w // label_w), int(page_h // label_h)
    if not columns or not rows:
        raise ValueError(f"A {label_w:g} x {label_h:g} mm label does not fit on {page}.")
    return columns, rows, (page_w - columns * label_w) / 2, (page_h - rows * label_h) / 2


# --- what is on the labels ---------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    number: str
    expiry: date
    quantity: int


@dataclass(frozen=True)
class Label:
    quantity: int  # stock units on this label's pack (or the whole supply on the bag's)
    batches: tuple[Batch, ...]
    pack: str  # "Pack 1 of 3", "Bag: all 3 packs", or "" on a single label
    more_batches: int = 0


def drug_text(drug: Any) -> str:
    """The drug's name with its strength (the formulary's name usually holds it already)."""
    name = str(drug.name)
    strength = (drug.strength or "").strip()
    if strength and strength.lower().replace(" ", "") not in name.lower().replace(" ", ""):
        name = f"{name} {strength}"
    return name


def _batches(dispensing: Dispensing) -> list[Batch]:
    return [Batch(line.batch.batch_number, line.batch.expiry, line.quantity - line.quantity_returned)
            for line in dispensing.lines if line.quantity - line.quantity_returned > 0]


def bag_label(batches: list[Batch], pack: str = "") -> Label:
    shown = tuple(sorted(batches, key=lambda b: b.expiry)[:MAX_BATCHES_SHOWN])
    return Label(quantity=sum(b.quantity for b in batches), batches=shown, pack=pack,
                 more_batches=max(0, len(batches) - MAX_BATCHES_SHOWN))


def sheet_labels(batches: list[Batch], pack_size: int) -> list[Label]:
    """The bag's label, then one label per pack (see the module's docstring)."""
    packs: list[Label] = []
    for b in batches:
        if pack_size > 1:
            full, rest = divmod(b.quantity, pack_size)
            packs += [Label(pack_size, (b,), "") for _ in range(full)]
            if rest:
                packs.append(Label(rest, (b,), ""))
        else:
            packs.append(Label(b.quantity, (b,), ""))
    n = len(packs)
    numbered = [Label(p.quantity, p.batches, f"Pack {i} of {n}") for i, p in enumerate(packs, 1)]
    return [bag_label(batches, f"Bag: all {n} pack{'s' if n != 1 else ''}"), *numbered]


# --- printing ----------------------------------------------------------------------------

def _load(session: DbSession, actor: Actor, dispensing_id: int) -> tuple[Dispensing, Patient,
                                                                           Prescription]:
    authorize(actor, Perm.DISPENSE)
    dispensing = session.get(Dispensing, dispensing_id)
    if dispensing is None:
        raise NotFound("No such dispensing.")
    patient = get_patient(session, actor, dispensing.patient_id)
    prescription = session.get(Prescription, dispensing.prescription_id)
    if prescription is None:  # the foreign key says this cannot happen
        raise NotFound("No such prescription.")
    return dispensing, patient, prescription


def _next_copy(session: DbSession, dispensing: Dispensing) -> int:
    """Count this print; the UPDATE holds the row until commit, so copies never collide."""
    copy = session.execute(
        update(Dispensing).where(Dispensing.id == dispensing.id)
        .values(label_prints=Dispensing.label_prints + 1)
        .returning(Dispensing.label_prints)
    ).scalar_one()
    return int(copy)


def render_labels(dispensing: Dispensing, patient: Patient, prescription: Prescription,
                  labels: list[Label], *, sheet: bool, copy: int) -> bytes:
    """The PDF of `labels` for `dispensing`: each on its own page of label stock, or laid out
    on sheets of PRINT_PAGE_SIZE. No checks, no record: callers go through the print_* verbs."""
    config = current_app.config
    size = str(config["PHARMACY_LABEL_SIZE"])
    directions = wording.for_prescription(prescription, config["ADMINISTRATION_TIMES"])
    drug = drug_text(dispensing.drug)
    geometry = label_geometry(size, patient.name, drug, directions, dispensing.number)
    if sheet:
        page = str(config["PRINT_PAGE_SIZE"])
        columns, rows, left, top = sheet_grid(page, geometry.width, geometry.height)
        css = geometry.stylesheet(page, f"{top:.2f}mm {left:.2f}mm")
        # A little wider than the labels, so rounding never pushes the last one to a new line.
        css += (f"\n.sheet-row {{ height: {geometry.height:g}mm; "
                f"width: {columns * geometry.width + 1:g}mm; }}")
        per_page = columns * rows
    else:
        css, columns, per_page = geometry.stylesheet(size), 1, 1
    pages = [labels[i:i + per_page] for i in range(0, len(labels), per_page)]
    code128 = barcodes.code128_png_data_uri(dispensing.number)
    return render_pdf(
        "dispensing_label.html" if not sheet else "label_sheet.html",
        stylesheets=STYLESHEETS, css=(css,),
        pages=[[page[i:i + columns] for i in range(0, len(page), columns)] for page in pages],
        dispensing=dispensing, patient=patient, drug=drug, directions=directions,
        unit=dispensing.drug.stock_unit, quantity_text=wording.quantity_text, code128=code128,
        pharmacy=config["PHARMACY_NAME"], reprint=copy > 1, copy=copy,
    )


def _print(session: DbSession, actor: Actor, dispensing_id: int, sheet: bool) -> Printout:
    dispensing, patient, prescription = _load(session, actor, dispensing_id)
    if dispensing.status == "returned":
        raise Conflict("This dispensing was returned to stock; its labels no longer apply.")
    batches = _batches(dispensing)
    if not batches:
        raise Conflict("Nothing of this dispensing is left to label.")
    if sheet:
        labels = sheet_labels(batches, max(1, dispensing.drug.pack_size or 1))
        if len(labels) > MAX_SHEET_LABELS:
            raise DomainError(f"{len(labels)} labels is more than a sheet run prints "
                              f"({MAX_SHEET_LABELS}); print single labels instead.")
    else:
        labels = [bag_label(batches)]
    copy = _next_copy(session, dispensing)
    pdf = render_labels(dispensing, patient, prescription, labels, sheet=sheet, copy=copy)
    kind = "sheet" if sheet else "label"
    audit.record(session, actor, "print.dispensing_label", dispensing, patient_id=patient.id,
                 after={"dispensing": dispensing.number, "format": kind, "copy": copy,
                        "reprint": copy > 1, "labels": len(labels),
                        "label_size": current_app.config["PHARMACY_LABEL_SIZE"],
                        "bytes": len(pdf)})
    suffix = f"-reprint-{copy}" if copy > 1 else ""
    name = "labels" if sheet else "label"
    return Printout(pdf, f"{name}-{dispensing.number}{suffix}.pdf")


def print_dispensing_label(session: DbSession, actor: Actor, dispensing_id: int) -> Printout:
    """Print a dispensing's label (the whole supply, every batch). Needs DISPENSE and sight of
    the patient; counted and recorded (`print.dispensing_label`); the caller commits."""
    return _print(session, actor, dispensing_id, sheet=False)


def print_label_sheet(session: DbSession, actor: Actor, dispensing_id: int) -> Printout:
    """Print a sheet of labels for a dispensing: the bag's and one per pack. As
    `print_dispensing_label`, and it counts as a print of the dispensing's labels."""
    return _print(session, actor, dispensing_id, sheet=True)
