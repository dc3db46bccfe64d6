from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.blueprints.auth import session, views  # noqa: E402,F401
