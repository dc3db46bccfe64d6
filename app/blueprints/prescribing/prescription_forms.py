"""Forms for writing and changing prescriptions. Types are checked here (a field error each);
the clinical rules (dose, frequency, dates, checks) are the domain's, shown beside the same
fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from app.core.web import DAY_MAX, DAY_MIN, optional_id, parse_day


def _within_days(form: Form, field: Field) -> None:
    """web.day_in_range for DateTimeLocalFields: the same bounds and message, but on the
    datetime's date. day_in_range itself takes DateFields only (parse_day would compare a
    datetime with its date bounds: a TypeError, so a 500)."""
    if field.data is not None and parse_day(field.data.date()) is None:
        raise ValidationError(_("Enter a date between %(first)s and %(last)s.",
                                first=DAY_MIN.isoformat(), last=DAY_MAX.isoformat()))


class PrescriptionForm(FlaskForm):
    version = HiddenField()
    drug_q = StringField(_l("Find a drug"), validators=[Optional(), Length(max=100)])
    drug_id = SelectField(_l("Drug"), coerce=optional_id, choices=[], validate_choice=False)
    dose = StringField(_l("Dose"), validators=[Length(max=30)])
    dose_unit = SelectField(_l("Unit"), choices=[], validate_choice=False)
    route = StringField(_l("Route"), validators=[Optional(), Length(max=40)])
    frequency = SelectField(_l("Frequency"), choices=[], validate_choice=False)
    start = DateTimeLocalField(_l("Start"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                               validators=[Optional(), _within_days])
    stop = DateTimeLocalField(_l("Stop"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                              validators=[Optional(), _within_days])
    duration_days = IntegerField(_l("Days"), validators=[Optional()])
    prn = BooleanField(_l("When required (PRN)"))
    prn_min_interval_minutes = IntegerField(_l("Minimum interval (minutes)"),
                                            validators=[Optional()])
    prn_max_daily_doses = IntegerField(_l("Most doses in 24 hours"),
                                       validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=[SelectChoice("routine", _l("Routine")), SelectChoice("urgent", _l("Urgent"))],
                           validate_choice=False)
    quantity = IntegerField(_l("Quantity to supply"), validators=[Optional()])
    indication = StringField(_l("Indication"), validators=[Optional(), Length(max=200)])
    instructions = TextAreaField(_l("Instructions"), validators=[Optional(), Length(max=2000)])
    override_allergy = TextAreaField(_l("Reason to override the allergy warning"), validators=[Length(max=1000)])
    override_duplicate = TextAreaField(_l("Reason to override the duplicate warning"), validators=[Length(max=1000)])
    override_max_dose = TextAreaField(_l("Reason to override the dose warning"), validators=[Length(max=1000)])
    reason = StringField(_l("Why it changes"), validators=[Optional(), Length(max=500)])


# Domain field names -> form field names (where they differ).
FIELD_MAP = {"start_at": "start", "stop_at": "stop"}


def local_to_utc(value: datetime | None, tz: str) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def utc_to_local(value: datetime | None, tz: str) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None, second=0, microsecond=0)


class StatusForm(FlaskForm):
    version = HiddenField()
    action = HiddenField()
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class AnswerForm(FlaskForm):
    version = HiddenField()
    answer = TextAreaField(_l("Your answer to the pharmacist"), validators=[Length(max=1000)])


def form_errors_into(form: Any, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, FIELD_MAP.get(name, name), None)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*list(field.errors or []), message]
