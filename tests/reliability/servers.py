"""Real servers and processes for the reliability tests: throwaway Redis and PostgreSQL that a
test may stop, kill or restart, and `flask worker` subprocesses.

Every wait is bounded and every process started here is stopped by its owner (fixtures call
`stop()` in `finally`). A missing binary skips the test, or fails it under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from app import create_app
from app.extensions import db, limiter, socketio

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def require(ok: bool, what: str) -> None:
    """Skip when a server binary is missing, or fail when CI says services are required."""
    if ok:
        return
    message = f"{what} is not installed (Debian packages postgresql, redis-server)"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


# --- Redis -----------------------------------------------------------------------------------

class RedisServer:
    """A redis-server on a free loopback port, without persistence; stop and start keep the port."""

    def __init__(self, root: Path) -> None:
        require(shutil.which("redis-server") is not None, "redis-server")
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        assert self.proc is None
        with open(self.root / f"redis-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self.ping, 15, f"redis-server on port {self.port}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- PostgreSQL ------------------------------------------------------------------------------

def pg_bin() -> str | None:
    found = os.environ.get("TEST_PG_BIN")
    if found and Path(found, "initdb").exists():
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return str(Path(candidates[-1]).parent) if candidates else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port (as scripts/services.sh makes)."""

    def __init__(self) -> None:
        binary = pg_bin()
        require(binary is not None, "PostgreSQL")
        assert binary is not None
        self.bin = binary
        # Not under pytest's tmp dirs: the server runs as user postgres, which must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="infirmary-reliability-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.data = self.root / "pg"
        self.log = self.root / "pg.log"
        self.port = free_port()
        self.running = False

    def base_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str, timeout: float = 90) -> None:
        subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", str(self.data), "-l", str(self.log),
                                     "-w", "-t", "60", *args]),
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        subprocess.run(_as_postgres([f"{self.bin}/initdb", "-D", str(self.data), "-A", "trust",
                                     "-U", "postgres", "-E", "UTF8", "--no-sync"]),
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._ctl("-o", options, "start")
        self.running = True

    def restart(self) -> None:
        """pg_ctl restart reuses the options the server was started with."""
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        try:
            if self.running and self.data.exists():
                with contextlib.suppress(subprocess.SubprocessError):
                    self._ctl("-m", "immediate", "stop", timeout=60)
        finally:
            self.running = False
            shutil.rmtree(self.root, ignore_errors=True)


def server_base(url: str) -> tuple[str, str]:
    """('postgresql+psycopg://user@host:port', 'dbname') from a database URL."""
    base, _, name = url.rpartition("/")
    return base, name


# --- apps and the process-wide extension state ------------------------------------------------

@contextlib.contextmanager
def isolated_extensions() -> Iterator[None]:
    """create_app() rebinds the process-wide Flask-Limiter storage and Socket.IO server to the
    newest app. Restore them afterwards so that the suite's own app is not left talking to a
    Redis these tests stopped."""
    saved = {ext: dict(vars(ext)) for ext in (limiter, socketio)}
    try:
        yield
    finally:
        for ext, state in saved.items():
            vars(ext).clear()
            vars(ext).update(state)


def build_app(tmp_dir: Path, database_url: str, redis_url: str = "", **overrides: Any) -> Flask:
    """An app on its own database, built with the real migrations (tests.conftest.reset_schema)."""
    from tests.conftest import reset_schema

    app = create_app(
        "test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        INSTANCE_PATH=str(tmp_dir / "instance"),
        **overrides,
    )
    if not redis_url:  # create_app falls back to the environment for an empty value
        app.config["REDIS_URL"] = ""
    reset_schema(app)
    return app


def dispose_app(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    conn = app.extensions.pop("infirmary_redis", None)
    if conn is not None:
        conn.close()


# --- flask worker subprocesses ----------------------------------------------------------------

class Worker:
    """`flask worker` in its own process group, on the app factory in tests.reliability.support
    (which registers the test handler before building the app)."""

    def __init__(self, log_dir: Path, database_url: str, redis_url: str, name: str,
                 burst: bool = False, extra_env: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "AUDIT_KEY"))}
        env.update({
            "INFIRMARY_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INFIRMARY_INSTANCE": str(log_dir / f"instance-{name}"),
            "JOB_TIMEOUT_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        })
        self.log_path = log_dir / f"{name}.log"
        cmd = [sys.executable, "-m", "flask", "--app", "tests.reliability.support:worker_app()", "worker"]
        if burst:
            cmd.append("--burst")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler, no cleanup, as a crash or OOM kill."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def add_user(app: Flask, username: str, role: str = "doctor", password: str = "correct horse battery") -> int:
    """A committed staff account with a password of its own (no change forced at sign-in)."""
    from app.core.security import SYSTEM
    from app.domain.identity import services as identity

    with app.app_context():
        try:
            user, _ = identity.create_user(db.session, SYSTEM, username=username, full_name=username.title(),
                                           roles=[role], password=password)
            db.session.commit()
            return int(user.id)
        finally:
            db.session.remove()
