from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you need this chart?"),
        validators=[DataRequired(_l("Say why you need this chart.")), Length(min=10, max=500,
                    message=_l("Say why you need this chart (at least 10 characters)."))],
    )
