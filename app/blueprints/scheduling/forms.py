"""Forms for booking and for setting up clinics. Types are checked here; rules in the domain."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.errors import DomainError
from app.core.web import day_in_range, parse_id
from app.domain.scheduling.configuration import WEEKDAYS


def _int_or_none(value: Any) -> int | None:
    # Anything that is not an id ("", "None", "²", 25 digits) is "not chosen".
    return parse_id(value)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DomainErrorsMixin:
    """Put a domain error beside its field (or above the form when no field matches)."""

    aliases: dict[str, str] = {}

    def show_error(self, exc: DomainError) -> None:
        name = self.aliases.get(exc.field or "", exc.field or "")
        field = getattr(self, name, None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, exc.message]
        else:
            self.form_errors.append(exc.message)  # type: ignore[attr-defined]


class BookForm(DomainErrorsMixin, FlaskForm):
    aliases = {"start_at": "start_time", "patient_id": "mrn", "resource_ids": "clinician_id"}

    patient_id = HiddenField()
    mrn = StringField(_l("Patient MRN"), validators=[Optional(), Length(max=16)])
    appointment_type_id = SelectField(_l("Appointment type"), coerce=_int_or_none, choices=[])
    day = DateField(_l("Date"), validators=[InputRequired(_l("Enter the date.")), day_in_range])
    start_time = TimeField(_l("Time"), validators=[InputRequired(_l("Enter the time."))])
    clinician_id = SelectField(_l("Clinician"), coerce=_int_or_none, choices=[])
    room_id = SelectField(_l("Room"), coerce=_int_or_none, choices=[])
    equipment_id = SelectField(_l("Equipment"), coerce=_int_or_none, choices=[])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
    version = HiddenField()  # when rescheduling: the appointment's version, against stale edits

    def resource_ids(self) -> list[int]:
        return [v for v in (self.clinician_id.data, self.room_id.data, self.equipment_id.data) if v]


class CancelForm(DomainErrorsMixin, FlaskForm):
    reason = TextAreaField(_l("Reason for cancelling"), validators=[Length(max=500)])
    version = HiddenField()


class NextFreeForm(DomainErrorsMixin, FlaskForm):
    aliases = {"after": "after"}

    class Meta:
        csrf = False  # a GET search; it changes nothing

    appointment_type_id = SelectField(_l("Appointment type"), coerce=_int_or_none, choices=[])
    clinician_id = SelectField(_l("Clinician"), coerce=_int_or_none, choices=[])
    after = DateField(_l("From"), validators=[Optional(), day_in_range])


class ClinicForm(DomainErrorsMixin, FlaskForm):
    code = StringField(_l("Code"), validators=[Length(max=20)])
    name = StringField(_l("Name"), validators=[Length(max=120)])
    department = StringField(_l("Department (waiting room)"), validators=[Length(max=40)], default="outpatients")


KIND_CHOICES = [SelectChoice("clinician", _l("Clinician")), SelectChoice("room", _l("Room")),
                SelectChoice("equipment", _l("Equipment"))]


class ResourceForm(DomainErrorsMixin, FlaskForm):
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    name = StringField(_l("Name"), validators=[Length(max=120)])
    clinic_id = SelectField(_l("Home clinic"), coerce=_int_or_none, choices=[])
    user_id = SelectField(_l("User account (clinicians)"), coerce=_int_or_none, choices=[])
    active = SelectField(_l("Status"), choices=[SelectChoice("1", _l("In use")), SelectChoice("0", _l("Withdrawn"))], default="1")


class TypeForm(DomainErrorsMixin, FlaskForm):
    code = StringField(_l("Code"), validators=[Length(max=20)])
    name = StringField(_l("Name"), validators=[Length(max=120)])
    slot_minutes = IntegerField(_l("Slot length (minutes)"), validators=[Optional()])
    needs = MultiCheckboxField(_l("Needs"), choices=KIND_CHOICES)
    clinic_id = SelectField(_l("Only at clinic"), coerce=_int_or_none, choices=[])
    active = SelectField(_l("Status"), choices=[SelectChoice("1", _l("Bookable")), SelectChoice("0", _l("Withdrawn"))], default="1")


class TemplateForm(DomainErrorsMixin, FlaskForm):
    resource_id = SelectField(_l("Clinician, room or equipment"), coerce=_int_or_none, choices=[])
    clinic_id = SelectField(_l("Clinic"), coerce=_int_or_none, choices=[])
    weekdays = MultiCheckboxField(_l("Weekdays"), coerce=int,
                                  choices=[SelectChoice(i, name) for i, name in enumerate(WEEKDAYS)])
    start_time = TimeField(_l("Starts"), validators=[Optional()])
    end_time = TimeField(_l("Ends"), validators=[Optional()])
    valid_from = DateField(_l("First day"), validators=[Optional(), day_in_range])
    valid_to = DateField(_l("Last day (optional)"), validators=[Optional(), day_in_range])
    type_ids = MultiCheckboxField(_l("Offers (none ticked: every type)"), coerce=int, choices=[])


class EndTemplateForm(DomainErrorsMixin, FlaskForm):
    last_day = DateField(_l("Last day"), validators=[Optional(), day_in_range])


class HolidayForm(DomainErrorsMixin, FlaskForm):
    day = DateField(_l("Date"), validators=[Optional(), day_in_range])
    name = StringField(_l("Name"), validators=[Length(max=120)])


class ClosureForm(DomainErrorsMixin, FlaskForm):
    aliases = {"start_at": "start_day", "end_at": "end_day"}

    resource_id = SelectField(_l("Clinician, room or equipment"), coerce=_int_or_none, choices=[])
    clinic_id = SelectField(_l("or the whole clinic"), coerce=_int_or_none, choices=[])
    start_day = DateField(_l("From date"), validators=[Optional(), day_in_range])
    start_time = TimeField(_l("time"), validators=[Optional()])
    end_day = DateField(_l("Until date"), validators=[Optional(), day_in_range])
    end_time = TimeField(_l("time"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[Length(max=500)])


class ConfirmForm(FlaskForm):
    """A bare POST with the CSRF token (remove a holiday or closure)."""
