from flask import Blueprint

bp = Blueprint("scheduling", __name__, url_prefix="/schedule")

from app.blueprints.scheduling import manage, views  # noqa: E402,F401
