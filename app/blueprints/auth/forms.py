from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username.")), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=256)])
    next = HiddenField()


class TotpForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[DataRequired(_l("Enter the 6-digit code.")), Length(min=6, max=8)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password.")), Length(max=256)])
    confirm_password = PasswordField(_l("New password again"), validators=[DataRequired(_l("Repeat the new password."))])


class EnableTotpForm(FlaskForm):
    secret = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code shown by your app"), validators=[DataRequired(_l("Enter the 6-digit code."))])


class DisableTotpForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Enter your password."))])
