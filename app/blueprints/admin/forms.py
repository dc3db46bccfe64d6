from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.security import ROLE_LABELS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserAccessForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter the person's full name.")), Length(max=120)])
    roles = MultiCheckboxField(_l("Roles"), choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()])
    wards = MultiCheckboxField(_l("Wards"), coerce=int, choices=[])
    version = HiddenField()


class NewUserForm(UserAccessForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Choose a username.")), Length(max=64)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Give a reason.")), Length(max=500)])


class EndSessionForm(ReasonForm):
    session_id = IntegerField(validators=[DataRequired()])
