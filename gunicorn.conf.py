"""gunicorn settings for Infirmary in production: `gunicorn -c gunicorn.conf.py wsgi:app`.

One worker process with many threads (the `gthread` worker) per gunicorn instance:

- Socket.IO needs sticky sessions: every request of one Socket.IO session must reach the process
  that holds it. gunicorn's own balancing between worker processes is not sticky, so each
  instance runs exactly ONE worker and we scale by running more instances behind nginx, whose
  upstream is sticky (see deploy/nginx.conf and docs/deploy.md).
- WebSockets are served by simple-websocket on gunicorn's threads (Flask-SocketIO's
  "threading" mode), with no eventlet or gevent monkey-patching: psycopg, redis, WeasyPrint
  and RQ run as ordinary blocking code.
- An open WebSocket holds one thread for its whole life, so `threads` caps the number of
  browsers one instance can keep connected (plus the plain HTTP requests in flight).

Every setting can be overridden from the environment (GUNICORN_*), so the compose file, a
systemd unit and the topology test all use this one file.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
worker_class = "gthread"
# Never more than one: gunicorn would spread one browser's Socket.IO requests over processes.
workers = 1
threads = _int("GUNICORN_THREADS", 256)
# Connections a worker may hold: every thread busy plus idle keep-alive connections waiting.
worker_connections = threads + _int("GUNICORN_KEEPALIVE_CONNECTIONS", 256)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# The gthread worker's heartbeat runs on its main loop, not on the request threads, so a
# long-lived WebSocket never counts as a silent worker.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On HUP/TERM, plain requests get this long to finish. Open WebSockets are closed at once (see
# the hooks at the end); the browsers reconnect and catch up on missed notifications.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# A restart drops every WebSocket on the instance, so no periodic recycling.
max_requests = 0
# Importing the app before forking would open Redis and database connections in the master.
preload_app = False
# nginx in front sets X-Forwarded-Proto; gunicorn believes it only from these addresses. The
# application itself trusts X-Forwarded-For/Proto only with TRUSTED_PROXIES (see config.py).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The heartbeat file on tmpfs where there is one (containers): never blocked by a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
proc_name = os.environ.get("GUNICORN_PROC_NAME", "infirmary-web")
pidfile = os.environ.get("GUNICORN_PIDFILE") or None

# gunicorn 25+ opens a control socket for `gunicornc`, by default one fixed path per user: two
# instances on one host would take it from each other. Opt in with a path per instance.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")

# Logs: JSON lines on stderr, like the application's own. The application logs every request
# (route template, status, duration, request id), so gunicorn's access log stays off unless
# asked for (GUNICORN_ACCESS_LOG=1).
_access = os.environ.get("GUNICORN_ACCESS_LOG", "").strip().lower() in {"1", "true", "yes", "on"}
accesslog = "-" if _access else None
access_log_format = '{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "ms": %(M)s}'
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "asctime": "time"},
        },
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json",
                          "stream": "ext://sys.stderr"},
        "access_console": {"class": "logging.StreamHandler", "formatter": "access",
                           "stream": "ext://sys.stdout"},
        "null": {"class": "logging.NullHandler"},
    },
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"],
                           "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console" if _access else "null"],
                            "propagate": False},
    },
    "root": {"level": "WARNING", "handlers": ["error_console"]},
}


# --- graceful stop with WebSockets ----------------------------------------------------------
# On HUP (reload), TERM (stop) or a scale-down, gthread stops accepting and waits up to
# graceful_timeout for open connections. An open WebSocket never finishes by itself, and at
# exit Python would wait for its thread: the old worker, running the old code, would keep those
# browsers until they left or the master killed it as silent (WORKER TIMEOUT). So the worker
# closes its WebSockets as soon as it is told to stop: each browser reconnects at once (to the
# new worker after a reload, or through nginx to another instance) and catches up on missed
# notifications, while plain requests in flight get the whole graceful period to finish.


def _close_websockets(log: object = None) -> int:
    try:
        from app.extensions import socketio
    except ImportError:
        return 0
    server = getattr(socketio, "server", None)
    eio = getattr(server, "eio", None)
    if eio is None:
        return 0
    sockets = list(eio.sockets.values())
    for sock in sockets:
        try:
            # No Engine.IO "close" packet (a client takes that as "do not come back"): the
            # WebSocket itself closes, so clients treat it as a dropped line and reconnect.
            sock.close(wait=False, abort=True, reason=eio.reason.TRANSPORT_CLOSE)
        except Exception as exc:  # noqa: BLE001 - a socket already gone is fine
            if log is not None:
                log.debug("closing a WebSocket failed: %s", exc)  # type: ignore[attr-defined]
    return len(sockets)


def post_worker_init(worker: object) -> None:
    import signal
    import threading

    graceful = worker.handle_exit  # type: ignore[attr-defined]

    def handle_exit(sig: int, frame: object) -> None:
        graceful(sig, frame)
        threading.Thread(target=_close_websockets, args=(worker.log,),  # type: ignore[attr-defined]
                         name="close-websockets", daemon=True).start()

    signal.signal(signal.SIGTERM, handle_exit)
    _warm_and_freeze(worker.log)  # type: ignore[attr-defined]


def _warm_and_freeze(log: object) -> None:
    """Before the first request: load what the first PDF would (fonts, WeasyPrint's stylesheets),
    then move every object the worker has made so far out of the garbage collector's reach.

    The application, its libraries and those caches live as long as the worker; left to the
    collector, each full collection walks all of them again (~180,000 objects, ~100 ms), and
    printing triggers one every few PDFs (docs/benchmarks.md, "Printing"). The RQ worker does
    the same (`flask worker`)."""
    import gc

    try:
        from app.core.pdf import warm_up

        warm_up()
    except Exception as exc:  # noqa: BLE001 - a worker that cannot print still serves pages
        log.warning("PDF warm-up failed: %s", exc)  # type: ignore[attr-defined]
    gc.collect()
    gc.freeze()


def worker_exit(server: object, worker: object) -> None:
    import sys
    import threading
    import time

    if os.getpid() != worker.pid:  # type: ignore[attr-defined]
        return  # gunicorn also calls this in the master for a worker that is already gone
    _close_websockets(worker.log)  # type: ignore[attr-defined]
    # Let the request threads send their close frames, then leave without waiting for any
    # thread that is still stuck on a client.
    deadline = time.monotonic() + 2.0
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
