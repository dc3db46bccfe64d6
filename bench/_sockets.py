"""What the Socket.IO latency benchmarks share (notify_latency, handover): the floor server (a
bare python-socketio server on the same Redis manager, nothing else) and the process that holds
a share of the measuring clients and talks to the harness over stdin/stdout."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def floor_server(namespace: str, *, join: bool = False) -> Any:
    """A WSGI app: python-socketio (threading mode, the Redis manager on FLOOR_REDIS_URL and
    FLOOR_CHANNEL) where every socket of `namespace` is in the room "all"; with `join`, a "join"
    event answers as the real one does. /healthz (any path) answers 200."""
    import socketio

    manager = socketio.RedisManager(os.environ["FLOOR_REDIS_URL"], channel=os.environ["FLOOR_CHANNEL"])
    sio = socketio.Server(async_mode="threading", client_manager=manager)

    def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        sio.enter_room(sid, "all", namespace=namespace)

    sio.on("connect", on_connect, namespace=namespace)
    if join:
        def on_join(sid: str, data: Any = None) -> dict[str, Any]:
            return {"ok": True, "presence": []}

        sio.on("join", on_join, namespace=namespace)

    def health(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "ok"}']

    return socketio.WSGIApp(sio, health)


class ClientProcess:
    """One process (`script --client-process`) holding a share of the clients (asyncio: hundreds
    of sockets per core). It reads its targets as one JSON line, prints READY, and on STOP
    prints RESULT with what it measured."""

    def __init__(self, targets: list[dict[str, Any]], log: Path, script: str) -> None:
        self._stderr = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, script, "--client-process"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(targets) + "\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"client process: no {prefix} within {timeout:.0f}s")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write("STOP\n")
            self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()


class Cluster:
    """Two production web instances (gunicorn, as deployed) and two bare floor servers, sharing
    one Redis; `start` runs any other process (a worker) in the same environment. Everything
    stops when `stack` closes."""

    def __init__(self, stack: contextlib.ExitStack, services: Any, tmp: Path, floor_app: str,
                 threads: int) -> None:
        from tests.deploy import procs

        self._procs, self._stack, self._tmp = procs, stack, tmp
        tag = secrets.token_hex(4)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TEST_", "FLASK_", "INFIRMARY_", "GUNICORN_", "SOCKETIO_"))}
        self.env.update(
            INFIRMARY_ENV="production", DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
            SECRET_KEY=secrets.token_hex(32), AUDIT_KEY=secrets.token_hex(32),
            INFIRMARY_INSTANCE=str(tmp / "instance"), SOCKETIO_CHANNEL=f"infirmary-bench-{tag}",
            # Plain HTTP on loopback (no TLS proxy in a benchmark), so the cookie may travel.
            SESSION_COOKIE_SECURE="0",
            GUNICORN_THREADS=str(threads), GUNICORN_GRACEFUL_TIMEOUT="3", GUNICORN_LOG_LEVEL="warning",
            FLOOR_REDIS_URL=services.redis_url, FLOOR_CHANNEL=f"floor-bench-{tag}",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        )
        gunicorn = [str(procs.VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
        self.webs: list[tuple[Any, int]] = []
        self.floors: list[tuple[Any, int]] = []
        for i in range(2):
            port = procs.free_port()
            self.webs.append((self.start(f"web{i}", [*gunicorn, "wsgi:app"],
                                         GUNICORN_BIND=f"127.0.0.1:{port}"), port))
            port = procs.free_port()
            self.floors.append((self.start(f"floor{i}", [*gunicorn, floor_app],
                                           GUNICORN_BIND=f"127.0.0.1:{port}"), port))

    def start(self, name: str, argv: list[str], **extra: str) -> Any:
        proc = self._procs.Proc(name, argv, {**self.env, **extra}, self._tmp / f"{name}.log").start()
        self._stack.callback(proc.stop)
        return proc

    def wait_ready(self) -> tuple[list[str], list[str]]:
        """The web and floor base URLs, once every instance answers /healthz."""
        for proc, port in self.webs + self.floors:
            self._procs.wait_http_ok(f"http://127.0.0.1:{port}/healthz", 120, f"{proc.name} /healthz", proc)
        return ([f"http://127.0.0.1:{port}" for _, port in self.webs],
                [f"http://127.0.0.1:{port}" for _, port in self.floors])
