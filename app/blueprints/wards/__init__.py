from flask import Blueprint

bp = Blueprint("wards", __name__, url_prefix="/wards")

from app.blueprints.wards import views  # noqa: E402,F401
