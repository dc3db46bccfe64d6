"""Forms of the supervisor's duplicate control pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length


class DismissForm(FlaskForm):
    note = StringField(_l("Why are these two people?"), validators=[Length(max=500)])


class MergeForm(FlaskForm):
    """Which record survives, the reason, and the versions the supervisor looked at. The value
    chosen for each field arrives as `value_<field>` (a patient id): the fields are the patient
    table's, so they are read in the view rather than declared here."""

    survivor = HiddenField()  # replaced by radio buttons in the template; read as a patient id
    reason = TextAreaField(_l("Why are these one person?"), validators=[Length(max=1000)])
    version_a = HiddenField()
    version_b = HiddenField()


class UnmergeForm(FlaskForm):
    reason = TextAreaField(_l("Why undo this merge?"), validators=[Length(max=1000)])


class CompareForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it only looks records up

    mrn_a = StringField(_l("MRN of one record"), validators=[Length(max=16)])
    mrn_b = StringField(_l("MRN of the other"), validators=[Length(max=16)])
