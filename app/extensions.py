"""Flask extensions, unbound; create_app() binds them."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from app.core.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
babel = Babel()
# No blanket limits: login throttling counts failures, not requests (see identity.throttle).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# Threading mode: gunicorn's gthread worker and the dev server both serve WebSockets through
# simple-websocket; eventlet/gevent are avoided (see docs/deploy.md).
socketio = SocketIO()
