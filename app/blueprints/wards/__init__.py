from flask import Blueprint

bp = Blueprint("wards", __name__, url_prefix="/wards")

# One module per ward concept: the board and ADT (views), vital signs and alerts (vitals), the
# medication record (medicines), nursing notes (notes) and the shift handover (handover).
from app.blueprints.wards import handover, medicines, notes, views, vitals  # noqa: E402,F401
