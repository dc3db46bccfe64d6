from flask import Blueprint

bp = Blueprint("registry", __name__, url_prefix="/registry")

from app.blueprints.registry import views  # noqa: E402,F401
