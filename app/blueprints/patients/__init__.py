from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from app.blueprints.patients import views  # noqa: E402,F401
