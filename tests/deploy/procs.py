"""Start, probe and stop the processes of a production topology on loopback.

Used by tests/deploy (and usable from bench/): throwaway PostgreSQL and Redis (or the suite's
own servers, in a database of our own), gunicorn instances, `flask worker` and `flask scheduler`,
Debian's nginx with deploy/nginx.conf, and a bare WebSocket client to check the upgrade.
Every wait is bounded and every process is stopped by its own id, even when a test fails.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FLASK = [str(VENV_BIN / "flask"), "--app", "wsgi"]
GUNICORN = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
NGINX_SITE = ROOT / "deploy" / "nginx.conf"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:  # noqa: BLE001 - not up yet; remember why
            last_error = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


# --- processes ----------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process in its own process group, with its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_running(self) -> None:
        if not self.running():
            code = self.popen.returncode if self.popen else None
            raise AssertionError(f"{self.name} exited ({code}):\n{self.log()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Signal our process group (the process and any children it forked), then kill it if
        it has not gone within `timeout` seconds."""
        if self.popen is not None:
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, sig)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait(10)
            else:
                # The leader is gone; make sure nothing it forked outlives it.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def run(argv: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    """Run a command to completion; fail with its output if it fails."""
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


# --- HTTP -----------------------------------------------------------------------------------


def insecure_tls() -> ssl.SSLContext:
    """Our own throwaway self-signed certificate: encryption without verification."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> Reply:
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=insecure_tls()), _NoRedirect()
    )
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()},
                         response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                         exc.read().decode("utf-8", "replace"))


def wait_http_ok(url: str, timeout: float, what: str, proc: Proc | None = None) -> Reply:
    def check() -> Reply | None:
        if proc is not None:
            proc.check_running()
        reply = http_get(url, timeout=2)
        return reply if reply.status == 200 else None

    return wait_until(check, timeout, what, interval=0.2)


# --- PostgreSQL and Redis -------------------------------------------------------------------


@dataclass
class Services:
    database_url: str  # a database on the server (the throwaway server's own, or the given one)
    redis_url: str

    @property
    def server_url(self) -> str:
        """The PostgreSQL server URL without the database name."""
        return self.database_url.rpartition("/")[0]


@contextlib.contextmanager
def database_and_redis(database_url: str = "", redis_url: str = "",
                       redis_db: int | None = None) -> Iterator[Services]:
    """The given PostgreSQL/Redis servers; throwaway ones started by scripts/services.sh (and
    stopped afterwards) for whichever is not given."""
    tmp: str | None = None
    try:
        if not (database_url and redis_url):
            # Directly under /tmp: the postgres user must be able to reach the data directory.
            tmp = tempfile.mkdtemp(prefix="infirmary-services-", dir="/tmp")
            out = run(["bash", str(ROOT / "scripts" / "services.sh"), "start", tmp], dict(os.environ),
                      timeout=90, what="scripts/services.sh start")
            found = dict(re.findall(r"(TEST_DATABASE_URL|TEST_REDIS_URL)=(\S+)", out))
            database_url = database_url or found["TEST_DATABASE_URL"]
            redis_url = redis_url or found["TEST_REDIS_URL"]
        if redis_db is not None:
            # A Redis database of our own on that server (jobs, rate limits). Pub/sub channels
            # are server-wide, so callers also pick a Socket.IO channel of their own.
            redis_url = re.sub(r"(/\d+)?$", f"/{redis_db}", redis_url, count=1)
        yield Services(database_url=database_url, redis_url=redis_url)
    finally:
        if tmp is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "stop", tmp],
                           cwd=ROOT, timeout=60, check=False, capture_output=True)


def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def flush_redis(url: str) -> None:
    import redis

    conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        conn.flushdb()
    finally:
        conn.close()


# --- nginx ----------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    crt, key = directory / "infirmary.crt", directory / "infirmary.key"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)], dict(os.environ), timeout=30,
        what="openssl req")
    return crt, key


@dataclass
class NginxSite:
    conf: Path
    access_log: Path
    http_port: int
    https_port: int


def nginx_site(directory: Path, upstreams: list[int], cert: Path, key: Path) -> NginxSite:
    """deploy/nginx.conf with only its "(site)" lines changed for loopback, inside a main
    config that keeps everything (pid, logs, temp files) in `directory`."""
    http_port, https_port = free_port(), free_port()
    access_log = directory / "access.log"
    lines = NGINX_SITE.read_text().splitlines()
    upstream_ports = iter(upstreams)
    out, replaced = [], 0
    for line in lines:
        if "# (site)" in line:
            replaced += 1
            stripped = line.strip()
            if stripped.startswith("server "):
                line = re.sub(r"server\s+\S+:\d+", f"server 127.0.0.1:{next(upstream_ports)}", line)
            elif stripped.startswith("listen 80;"):
                line = line.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            elif stripped.startswith("listen 443 ssl;"):
                line = line.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
            elif stripped.startswith("access_log "):
                line = re.sub(r"access_log\s+\S+", f"access_log {access_log}", line)
            elif stripped.startswith("ssl_certificate "):
                line = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", line)
            elif stripped.startswith("ssl_certificate_key "):
                line = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", line)
            else:
                raise AssertionError(f"deploy/nginx.conf: unexpected (site) line: {line!r}")
        out.append(line)
    if replaced != 8 or next(upstream_ports, None) is not None:
        raise AssertionError(f"deploy/nginx.conf: expected 8 (site) lines for 2 upstreams, found {replaced}")
    site = directory / "infirmary.conf"
    site.write_text("\n".join(out) + "\n")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = directory / "nginx.conf"
    conf.write_text(
        f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n{user}"
        f"error_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n{temp}\n    include {site};\n}}\n"
    )
    return NginxSite(conf, access_log, http_port, https_port)


def nginx_log(site: NginxSite) -> list[dict[str, Any]]:
    try:
        text = site.access_log.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- a bare WebSocket client (RFC 6455), enough to check an upgrade through the proxy ---------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketProbe:
    def __init__(self, host: str, port: int, path: str, headers: dict[str, str] | None = None,
                 tls: bool = True, timeout: float = 5) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock: socket.socket = (insecure_tls().wrap_socket(raw, server_hostname=host)
                                    if tls else raw)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buf = b""
        while b"\r\n\r\n" not in self._buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self._buf += chunk
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1]) if status_line else 0
        self.headers = {k.strip().lower(): v.strip()
                        for k, _, v in (h.partition(":") for h in header_lines)}
        expected = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.accepted = self.status == 101 and self.headers.get("sec-websocket-accept") == expected

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("WebSocket closed by the server")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def recv_text(self) -> str:
        while True:
            b0, b1 = self._read(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x8:
                raise ConnectionError("WebSocket closed by the server")

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        self.sock.close()

    def __enter__(self) -> WebSocketProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
