from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    mrn = StringField(_l("Patient MRN"), validators=[Optional(), Length(max=16)])
    username = StringField(_l("User"), validators=[Optional(), Length(max=64)])
    action = StringField(_l("Action starts with"), validators=[Optional(), Length(max=80)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
