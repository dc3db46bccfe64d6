"""The formulary: the pharmacy's searchable list of drugs, and the pharmacist's edit of one."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.blueprints.pharmacy import bp
from app.core.errors import Conflict, DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, can, require
from app.core.web import parse_version
from app.domain.formulary import services as formulary
from app.domain.formulary.models import Drug
from app.extensions import db

OUT_OF_DATE = "This form is out of date: reload the page and try again."


class DrugForm(FlaskForm):
    version = HiddenField()
    drug_class = StringField(_l("Class (for allergy checks)"), validators=[Optional(), Length(max=80)])
    controlled = BooleanField(_l("Controlled drug (on the register)"))
    pack_gtin = StringField(_l("Pack GTIN"), validators=[Optional(), Length(max=20)])
    pack_size = IntegerField(_l("Pack size (stock units)"), validators=[InputRequired(_l("Enter the pack size.")),
                                                                       NumberRange(min=1, max=100000)])
    default_dose = DecimalField(_l("Usual dose"), places=None, validators=[Optional()])
    default_frequency = SelectField(_l("Usual frequency"), choices=[], validate_choice=False)
    max_single_dose = DecimalField(_l("Maximum single dose"), places=None, validators=[Optional()])
    max_daily_dose = DecimalField(_l("Maximum daily dose"), places=None, validators=[Optional()])
    active = BooleanField(_l("In use (can be prescribed)"))


def _frequency_choices() -> list[SelectChoice]:
    table = current_app.config["ADMINISTRATION_TIMES"]
    return [SelectChoice("", _("None"))] + [SelectChoice(code, f"{code} · {entry['label']}")
                                            for code, entry in table.items()]


def _drug_form(drug: Drug, formdata: Any = None) -> DrugForm:
    if formdata is None:
        form = DrugForm(formdata=None, obj=drug)
        form.version.data = str(drug.version)
        form.default_frequency.data = drug.default_frequency or ""
        form.pack_gtin.data = drug.pack_gtin or ""
    else:
        form = DrugForm(formdata=formdata)
    form.default_frequency.choices = _frequency_choices()
    return form


@bp.route("/formulary")
@require(Perm.PRESCRIPTION_READ)
def list_drugs() -> Response:
    """The formulary, filtered as the user types (name, brand or code)."""
    q = request.args.get("q", "")[:100]
    drugs = formulary.search_drugs(db.session, q, limit=200)
    return render("pharmacy/formulary_list.html", "pharmacy/_formulary_rows.html", drugs=drugs, q=q)


@bp.route("/formulary/<int:drug_id>", methods=["GET", "POST"])
@require(Perm.PRESCRIPTION_READ)
def edit_drug(drug_id: int) -> Response:
    """A drug's details; a pharmacist (FORMULARY_MANAGE) edits class, pack, dose and limits."""
    drug = formulary.get_drug(db.session, drug_id)
    may_edit = can(current_user, Perm.FORMULARY_MANAGE)
    if request.method == "GET":
        return render("pharmacy/formulary_drug.html", drug=drug, form=_drug_form(drug), may_edit=may_edit,
                      classes=formulary.known_classes(db.session))
    if not may_edit:
        abort(403)
    form = _drug_form(drug, request.form)
    status = 422
    if form.validate_on_submit():
        try:
            version = parse_version(form.version.data)
            if version is None:  # not a form we rendered
                raise Conflict(OUT_OF_DATE)
            formulary.update_drug(db.session, current_user, drug.id, version, formulary.DrugEdit(
                drug_class=form.drug_class.data, controlled=bool(form.controlled.data),
                pack_gtin=form.pack_gtin.data, pack_size=form.pack_size.data,
                default_dose=form.default_dose.data, default_frequency=form.default_frequency.data or None,
                max_single_dose=form.max_single_dose.data, max_daily_dose=form.max_daily_dose.data,
                active=bool(form.active.data)))
        except Conflict as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 409
        except DomainError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else form.form_errors).append(exc.message)
        else:
            db.session.commit()
            flash(_("Saved %(name)s.", name=drug.name), "success")
            return redirect_to(url_for("pharmacy.edit_drug", drug_id=drug.id))
    drug = formulary.get_drug(db.session, drug_id)
    if status == 422:
        return invalid("pharmacy/formulary_drug.html", "pharmacy/_formulary_form.html", drug=drug, form=form,
                       may_edit=may_edit, classes=formulary.known_classes(db.session))
    return render("pharmacy/formulary_drug.html", "pharmacy/_formulary_form.html", status=status, drug=drug,
                  form=form, may_edit=may_edit, classes=formulary.known_classes(db.session))
