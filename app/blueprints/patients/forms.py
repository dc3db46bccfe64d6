from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.core.errors import DomainError
from app.core.web import parse_id
from app.domain.patients.services import Demographics


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you need this chart?"),
        validators=[DataRequired(_l("Say why you need this chart.")), Length(min=10, max=500,
                    message=_l("Say why you need this chart (at least 10 characters)."))],
    )


SEX_CHOICES = [SelectChoice("", _l("Choose…")), SelectChoice("female", _l("Female")),
               SelectChoice("male", _l("Male")), SelectChoice("other", _l("Other")),
               SelectChoice("unknown", _l("Unknown"))]


class PatientForm(FlaskForm):
    """Registration. Types are checked here; every rule about the values (future dates, phone
    and national id formats, sex) is the domain's, so an import or an API gets the same."""

    family_name = StringField(_l("Family name"), validators=[Length(max=100)])
    given_names = StringField(_l("Given name(s)"), validators=[Length(max=150)])
    birth_date = DateField(_l("Date of birth"), validators=[InputRequired(_l("Enter the date of birth."))])
    sex = SelectField(_l("Sex"), choices=SEX_CHOICES)
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    national_id = StringField(_l("National id"), validators=[Optional(), Length(max=40)])
    address_line = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=20)])
    duplicate_reason = TextAreaField(_l("Why register anyway?"), validators=[Length(max=500)])

    def demographics(self) -> Demographics:
        return Demographics(
            family_name=self.family_name.data or "", given_names=self.given_names.data or "",
            birth_date=self.birth_date.data or date.min, sex=self.sex.data or "",
            phone=self.phone.data, national_id=self.national_id.data,
            address_line=self.address_line.data, city=self.city.data, postcode=self.postcode.data,
        )

    def show_errors(self, exc: DomainError) -> None:
        """The domain's verdict beside the fields it concerns."""
        errors: dict[str, str] = getattr(exc, "errors", None) or {exc.field or "": exc.message}
        for name, message in errors.items():
            field: Any = getattr(self, name, None) if name else None
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, message]
            else:
                self.form_errors.append(message)


class EditPatientForm(PatientForm):
    version = HiddenField()
    change = RadioField(
        _l("What kind of change is this?"),
        choices=[SelectChoice("updated", _l("The details changed (new phone, address, name)")),
                 SelectChoice("corrected", _l("Correcting a mistake in the record"))],
        default="updated",
    )
    reason = TextAreaField(_l("Reason"), validators=[Length(max=500)])

    def expected_version(self) -> int:
        parsed = parse_id(self.version.data)
        return -1 if parsed is None else parsed
