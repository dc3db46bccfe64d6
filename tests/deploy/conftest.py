"""The production topology on loopback: PostgreSQL, Redis, two gunicorn web instances behind
Debian's nginx (deploy/nginx.conf, sticky), one `flask worker` and one `flask scheduler`, all
in INFIRMARY_ENV=production with generated secrets. Docker is not needed; the processes are the
ones docker-compose.yml runs, started the same way.

Missing nginx, PostgreSQL, Redis, chromium or openssl skips these tests, or fails them when
REQUIRE_SERVICES=1 (as CI runs them)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import create_database
from tests.deploy import procs

ADMIN_PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: the multi-process production topology (nginx, gunicorn, worker, scheduler)"
    )


def missing_tools() -> list[str]:
    missing = []
    if procs.nginx_binary() is None:
        missing.append("nginx (Debian package nginx-light)")
    if not os.environ.get("TEST_DATABASE_URL") and procs.postgres_bin() is None:
        missing.append("PostgreSQL (Debian package postgresql)")
    if not os.environ.get("TEST_REDIS_URL") and shutil.which("redis-server") is None:
        missing.append("Redis (Debian package redis-server)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("chromium (Debian package chromium)")
    if shutil.which("openssl") is None:
        missing.append("openssl (Debian package openssl)")
    return missing


def require_tools() -> None:
    """Skip without the tools, or fail when REQUIRE_SERVICES=1 (CI must not skip this)."""
    missing = missing_tools()
    if missing:
        message = "the deployment topology needs: " + ", ".join(missing)
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)


@dataclass
class Topology:
    tmp: Path
    env: dict[str, str]
    database_url: str
    redis_url: str
    site: procs.NginxSite
    port_a: int
    port_b: int
    web_a: procs.Proc
    web_b: procs.Proc
    worker: procs.Proc
    scheduler: procs.Proc
    nginx: procs.Proc
    routes: dict[int, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """Where browsers go: nginx over HTTPS."""
        return f"https://127.0.0.1:{self.site.https_port}"

    def check_running(self) -> None:
        for proc in (self.web_a, self.web_b, self.worker, self.scheduler, self.nginx):
            proc.check_running()

    def upstream_of(self, request_id: str) -> str:
        """Which web instance nginx sent a request to, from its access log."""
        line = procs.wait_until(
            lambda: next((x for x in procs.nginx_log(self.site) if x["request_id"] == request_id), None),
            5, f"nginx's access log line for request {request_id}",
        )
        return str(line["upstream"])

    def route_cookie_for(self, port: int) -> str:
        """A value of the sticky-route cookie that nginx hashes onto the instance at `port`."""
        if not self.routes:
            for i in range(64):
                value = f"topology-{i}"
                reply = procs.http_get(self.base + "/healthz",
                                       headers={"Cookie": f"infirmary_route={value}"})
                upstream = self.upstream_of(reply.headers["x-request-id"])
                self.routes.setdefault(int(upstream.rpartition(":")[2]), value)
                if len(self.routes) == 2:
                    break
        assert port in self.routes, f"no route cookie reached port {port}: {self.routes}"
        return self.routes[port]


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    require_tools()
    tmp = tmp_path_factory.mktemp("topology")
    dbname = "infirmary_topology"
    with contextlib.ExitStack() as stack:
        # The suite's servers when it has them (a database of our own on it), else throwaway ones.
        services = stack.enter_context(procs.database_and_redis(
            os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("TEST_REDIS_URL", ""), redis_db=15))
        database_url = create_database(services.server_url, dbname)
        stack.callback(procs.drop_database, services.server_url, dbname)
        procs.flush_redis(services.redis_url)  # db 15 of that server is this test's own

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "FLASK_", "INFIRMARY_", "GUNICORN_", "SESSION_"))
               and k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "AUDIT_KEY",
                             "SOCKETIO_MESSAGE_QUEUE", "SOCKETIO_CHANNEL"}}
        env.update(
            INFIRMARY_ENV="production",
            DATABASE_URL=database_url,
            REDIS_URL=services.redis_url,
            SECRET_KEY=secrets.token_hex(32),
            AUDIT_KEY=secrets.token_hex(32),
            TRUSTED_PROXIES="1",
            INFIRMARY_INSTANCE=str(tmp / "instance"),
            # Pub/sub channels are server-wide: one of our own, so no other run hears us.
            SOCKETIO_CHANNEL=f"infirmary-topology-{secrets.token_hex(4)}",
            SCHEDULER_INTERVAL_SECONDS="0.5",
            GUNICORN_THREADS="32",
            GUNICORN_GRACEFUL_TIMEOUT="3",
            PYTHONUNBUFFERED="1",
        )
        procs.run([*procs.FLASK, "db", "upgrade"], env, timeout=120, what="flask db upgrade")
        procs.run([*procs.FLASK, "users", "create-admin", "--username", "admin",
                   "--full-name", "Ada Admin", "--password", ADMIN_PASSWORD],
                  env, timeout=60, what="flask users create-admin")

        def start(name: str, argv: list[str], **extra: str) -> procs.Proc:
            proc = procs.Proc(name, argv, {**env, **extra}, tmp / f"{name}.log").start()
            stack.callback(proc.stop)
            return proc

        port_a, port_b = procs.free_port(), procs.free_port()
        web_a = start("web-a", procs.GUNICORN, GUNICORN_BIND=f"127.0.0.1:{port_a}")
        web_b = start("web-b", procs.GUNICORN, GUNICORN_BIND=f"127.0.0.1:{port_b}")
        worker = start("worker", [*procs.FLASK, "worker"])
        scheduler = start("scheduler", [*procs.FLASK, "scheduler"])

        cert, key = procs.self_signed_certificate(tmp)
        site = procs.nginx_site(tmp, [port_a, port_b], cert, key)
        nginx_bin = procs.nginx_binary()
        assert nginx_bin is not None
        procs.run([nginx_bin, "-t", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(site.conf)],
                  env, timeout=30, what="nginx -t (deploy/nginx.conf)")
        nginx = start("nginx", [nginx_bin, "-p", str(tmp), "-e", str(tmp / "error.log"),
                                "-c", str(site.conf)])

        for proc, port in ((web_a, port_a), (web_b, port_b)):
            procs.wait_http_ok(f"http://127.0.0.1:{port}/healthz", 90, f"{proc.name} /healthz", proc)
        procs.wait_http_ok(f"https://127.0.0.1:{site.https_port}/healthz", 30, "nginx /healthz", nginx)

        topo = Topology(tmp=tmp, env=env, database_url=database_url, redis_url=services.redis_url,
                        site=site, port_a=port_a, port_b=port_b, web_a=web_a, web_b=web_b,
                        worker=worker, scheduler=scheduler, nginx=nginx)
        try:
            yield topo
        finally:
            # pytest shows this only when something failed. Leaving the `with` then stops every
            # process (in reverse order), drops the database and stops servers we started.
            for proc in (web_a, web_b, worker, scheduler, nginx):
                print(f"--- {proc.name} ({'running' if proc.running() else 'exited'}) ---\n"
                      f"{proc.log()[-2000:]}")
