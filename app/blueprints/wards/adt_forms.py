"""Forms for admission, transfer, discharge, their cancels and the beds. Types are checked here
(a field error each); the ward's rules are the domain's, shown beside the same fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.core.web import coerce_id, day_in_range, optional_id
from app.domain.admissions import rules
from app.domain.admissions.models import ADMIT_SOURCES

SOURCE_LABELS = {"outpatient": _l("Outpatient clinic"), "emergency": _l("Emergency department"),
                 "direct": _l("Direct admission")}


class AdmitForm(FlaskForm):
    patient_id = HiddenField()
    bed_id = SelectField(_l("Bed"), coerce=coerce_id, choices=[], validate_choice=False,
                         validators=[InputRequired(_l("Choose a bed."))])
    source = SelectField(_l("Admitted from"), choices=[SelectChoice(s, SOURCE_LABELS[s]) for s in ADMIT_SOURCES],
                         validators=[DataRequired(_l("Choose where the patient is admitted from."))])
    attending_id = SelectField(_l("Attending doctor"), coerce=optional_id, choices=[], validate_choice=False,
                               validators=[InputRequired(_l("Choose the attending doctor."))])
    diagnosis = StringField(_l("Working diagnosis / reason for admission"), validators=[
        DataRequired(_l("Give the working diagnosis.")), Length(max=rules.DIAGNOSIS_MAX)])
    expected_discharge_on = DateField(_l("Expected discharge date"), validators=[Optional(), day_in_range])
    nurse_id = SelectField(_l("Responsible nurse"), coerce=optional_id, choices=[], validate_choice=False)
    reservation_id = HiddenField()


class TransferForm(FlaskForm):
    version = HiddenField()
    bed_id = SelectField(_l("Move to bed"), coerce=coerce_id, choices=[], validate_choice=False,
                         validators=[InputRequired(_l("Choose a bed."))])
    note = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=rules.REASON_MAX)])


class OrderDischargeForm(FlaskForm):
    version = HiddenField()
    expected_on = DateField(_l("Leaving on"), validators=[Optional(), day_in_range])


class DischargeForm(FlaskForm):
    version = HiddenField()
    disposition = SelectField(_l("Going to"), choices=[SelectChoice("", _l("Choose…")),
                                                                *(SelectChoice(k, v) for k, v in rules.DISPOSITIONS.items())],
                              validators=[DataRequired(_l("Choose where the patient is going."))])
    summary = TextAreaField(_l("Discharge summary"), validators=[
        DataRequired(_l("Write the discharge summary.")), Length(max=rules.SUMMARY_MAX)])


class ReasonForm(FlaskForm):
    version = HiddenField()
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason.")),
                                                   Length(max=rules.REASON_MAX)])


class NurseForm(FlaskForm):
    version = HiddenField()
    nurse_id = SelectField(_l("Responsible nurse"), coerce=optional_id, choices=[], validate_choice=False)


class ExpectedDischargeForm(FlaskForm):
    version = HiddenField()
    expected_discharge_on = DateField(_l("Expected discharge date"), validators=[Optional(), day_in_range])


class ReserveForm(FlaskForm):
    patient_id = HiddenField()
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class CloseBedForm(FlaskForm):
    reason = StringField(_l("Why is the bed closed?"), validators=[
        DataRequired(_l("Give the reason the bed is closed.")), Length(max=200)])


class PlainForm(FlaskForm):
    """A button: the CSRF token and nothing else."""


class StartHandoverForm(FlaskForm):
    """Start (or join) a ward's handover. The shift's rules (required, length) are the domain's,
    placed beside the field by place_error."""

    shift = StringField(_l("Shift handing over"))
