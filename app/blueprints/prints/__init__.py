from flask import Blueprint

bp = Blueprint("prints", __name__, url_prefix="/prints")

from app.blueprints.prints import views  # noqa: E402,F401
