from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.core.web import coerce_id, day_in_range


class WalkInForm(FlaskForm):
    mrn = StringField(_l("Patient MRN"), validators=[DataRequired(_l("Enter or scan the patient's MRN.")),
                                                     Length(max=16)])
    clinic_id = SelectField(_l("Clinic"), coerce=coerce_id, choices=[],
                            validate_choice=False)  # the domain says which clinics are open


class CallForm(FlaskForm):
    room = StringField(_l("Room or desk"), validators=[Length(max=40)])


class ContactForm(FlaskForm):
    email = StringField(_l("E-mail for reminders"), validators=[Optional(), Length(max=200)])
    channel = RadioField(_l("Send reminders by"), default="", validate_choice=False, choices=[
        SelectChoice("", _l("Hospital default")), SelectChoice("sms", _l("SMS")),
        SelectChoice("email", _l("E-mail")), SelectChoice("none", _l("No reminders")),
    ])


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET report filter changes nothing

    since = DateField(_l("From"), validators=[Optional(), day_in_range])
    until = DateField(_l("To"), validators=[Optional(), day_in_range])
