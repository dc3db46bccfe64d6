"""Form plumbing the dispensing, stock and controlled-drug pages share: the second person's
credentials for a controlled drug."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, StringField
from wtforms.validators import Length, Optional

from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.extensions import db


class WitnessMixin:
    """A second person's username and password, typed by them at this workstation."""

    witness_username = StringField(_l("Witness username"), validators=[Optional(), Length(max=80)])
    witness_password = PasswordField(_l("Witness password"), validators=[Optional(), Length(max=200)])


def witness_from(form: Any, needed: bool | None = None) -> User | None:
    """The witness who typed their credentials into the form, checked by their own password.

    `needed=None`: checked when anything was typed, else None (the service says whether a
    witness was required). `needed=False`: None, whatever was typed. `needed=True`: checked,
    so empty credentials are refused on the witness field."""
    if needed is False:
        return None
    username = (form.witness_username.data or "").strip()
    password = form.witness_password.data or ""
    if needed is None and not username and not password:
        return None
    return identity.verify_witness(db.session, current_user, username, password,
                                   request.remote_addr or "-")
