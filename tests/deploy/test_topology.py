"""The production topology works as deployed: nginx in front of two gunicorn instances, and a
notification raised by a job in the worker reaches a browser held by the *other* processes.

The chain under test, every link a separate OS process:
  database (tampered audit row, periodic job made due)
  -> `flask scheduler` claims the periodic job and enqueues it on Redis
  -> `flask worker` runs the nightly audit verification, which finds the edit and notify()s
     the administrators; after commit the push goes out on the Redis Socket.IO channel
  -> gunicorn web instance B (and A) hear it and emit to the sockets they hold
  -> chromium, signed in through nginx and pinned to B, shows the toast and the bell count.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import create_engine, text

from tests.browser.conftest import CHROMIUM_ARGS, sign_in
from tests.deploy import procs
from tests.deploy.conftest import ADMIN_PASSWORD, CHROMIUM, Topology

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(240)]

FAILED_TEXT = "Audit trail verification FAILED"


def test_nginx_serves_health_over_https_and_upgrades_websockets(topology: Topology) -> None:
    # Health through the proxy, on HTTPS and (for probes) plain HTTP; everything else on
    # plain HTTP is sent to HTTPS.
    reply = procs.http_get(topology.base + "/healthz")
    assert reply.status == 200 and reply.json() == {"status": "ok"}
    # The app believed nginx's X-Forwarded-Proto (TRUSTED_PROXIES=1): it saw HTTPS.
    assert "max-age" in reply.headers.get("strict-transport-security", "")
    ready = procs.http_get(topology.base + "/readyz")
    assert ready.status == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    plain = f"http://127.0.0.1:{topology.site.http_port}"
    assert procs.http_get(plain + "/healthz").status == 200
    redirect = procs.http_get(plain + "/login")
    assert redirect.status == 301 and redirect.headers["location"].startswith("https://")

    # Sticky sessions: a first visit gets a route cookie; a browser that has one keeps it and
    # always reaches the same instance; different routes spread over both instances.
    assert re.match(r"infirmary_route=\w+; Path=/; Secure; HttpOnly",
                    reply.headers.get("set-cookie", ""))
    route_a = topology.route_cookie_for(topology.port_a)
    route_b = topology.route_cookie_for(topology.port_b)
    for route, port in ((route_a, topology.port_a), (route_b, topology.port_b)):
        for _ in range(3):
            again = procs.http_get(topology.base + "/healthz",
                                   headers={"Cookie": f"infirmary_route={route}"})
            assert "set-cookie" not in again.headers
            assert topology.upstream_of(again.headers["x-request-id"]) == f"127.0.0.1:{port}"

    # The WebSocket upgrade passes through nginx (TLS) to gunicorn's threads: Engine.IO opens,
    # and the /live namespace refuses a browser that has not signed in.
    with procs.WebSocketProbe("127.0.0.1", topology.site.https_port,
                              "/socket.io/?EIO=4&transport=websocket",
                              headers={"Cookie": f"infirmary_route={route_b}"}) as ws:
        assert ws.accepted, (ws.status, ws.headers)
        opened = ws.recv_text()
        assert opened.startswith("0") and "sid" in json.loads(opened[1:])
        ws.send_text("40/live,")
        assert ws.recv_text().startswith("44/live,")
    topology.check_running()


def _in_thread(fn: Callable[[], None], timeout: float) -> None:
    """Run Playwright's sync API on a thread of its own: another test module may hold a
    Playwright session on the main thread for the whole run."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="browser", daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the browser steps did not finish within {timeout:.0f}s"
    if errors:
        raise errors[0]


def _periodic_state(db: Any, name: str) -> Any:
    with db.connect() as conn:
        return conn.execute(text("SELECT last_outcome, last_error FROM periodic_job_state "
                                 "WHERE name = :name"), {"name": name}).first()


def _tamper_and_make_verification_due(db: Any) -> None:
    """What an intruder with database access might do: edit an audit row behind the
    application's back (as superuser, past the append-only trigger). Then the nightly check is
    made due now, instead of at 02:00."""
    with db.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        edited = conn.execute(text("UPDATE audit_event SET reason = 'edited behind the application' "
                                   "WHERE seq = (SELECT min(seq) FROM audit_event)"))
        assert edited.rowcount == 1
        conn.execute(text("UPDATE periodic_job_state SET next_run_at = :due WHERE name = 'audit-verify'"),
                     {"due": datetime.now(UTC) - timedelta(minutes=1)})


def test_notification_raised_by_a_job_in_the_worker_appears_in_a_browser_on_the_other_web_process(
    topology: Topology,
) -> None:
    from rq import Worker
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from app.core.jobs import rq_queue
    from tests.deploy.procs import wait_until

    db = create_engine(topology.database_url)
    redis_conn = redis.Redis.from_url(topology.redis_url)
    try:
        # The worker has registered with Redis, and the scheduler's first pass has already run
        # the audit verification through it once, on an intact trail.
        worker = wait_until(lambda: next((w for w in Worker.all(connection=redis_conn)
                                          if w.pid == topology.worker.pid), None),
                            60, "the RQ worker to register")
        wait_until(lambda: (_periodic_state(db, "audit-verify") or (None,))[0] == "ok", 60,
                   "the first audit verification (intact trail) to run in the worker")

        route_a = topology.route_cookie_for(topology.port_a)
        route_b = topology.route_cookie_for(topology.port_b)

        def browser_steps() -> None:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    pages: dict[str, Page] = {}
                    errors: list[str] = []
                    for label, route in (("b", route_b), ("a", route_a)):
                        context = browser.new_context(ignore_https_errors=True)
                        # Pinned through nginx's sticky route: this browser's page loads and
                        # its WebSocket all go to one instance (checked in the access log below).
                        context.add_cookies([{"name": "infirmary_route", "value": route,
                                              "url": topology.base, "secure": True}])
                        page = context.new_page()
                        page.on("pageerror", lambda e: errors.append(str(e)))
                        page.set_default_timeout(30_000)
                        sign_in(page, topology.base, "admin", ADMIN_PASSWORD)
                        expect(page).to_have_url(topology.base + "/", timeout=30_000)
                        expect(page.locator("body")).to_have_attribute("data-live", "connected",
                                                                        timeout=20_000)
                        pages[label] = page

                    _tamper_and_make_verification_due(db)

                    for page in pages.values():
                        expect(page.locator("#toasts")).to_contain_text(FAILED_TEXT, timeout=45_000)
                        expect(page.locator("#toasts [role=alert]")).to_have_count(1)
                        # The bell re-fetched over HTTP finds the row: the push left only
                        # after the worker's transaction committed.
                        expect(page.locator("#unread-count")).to_have_text("1", timeout=10_000)
                    for page in pages.values():
                        page.context.close()
                    assert errors == [], errors
                finally:
                    browser.close()

        _in_thread(browser_steps, timeout=150)

        # The notification was raised in the worker process: the job that found the edit ran
        # on the RQ worker whose pid is the `flask worker` we started (not a web process).
        registry = FinishedJobRegistry(queue=rq_queue("default", redis_conn))
        jobs = [Job.fetch(i, connection=redis_conn) for i in registry.get_job_ids()
                if i.startswith("periodic-audit-verify-")]
        failing = [j for j in jobs if str(j.return_value() or "").startswith(FAILED_TEXT)]
        assert failing and {j.worker_name for j in failing} == {worker.name}
        assert worker.pid == topology.worker.pid
        assert worker.pid not in {topology.web_a.pid, topology.web_b.pid}

        # And each browser's WebSocket was held by the instance its route pins it to: B's by
        # web B, A's by web A (nginx logs a WebSocket when it closes).
        def socket_lines(route: str) -> list[dict[str, Any]]:
            return [x for x in procs.nginx_log(topology.site)
                    if x["route"] == route and x["path"] == "/socket.io/" and x["status"] == 101]

        for route, port in ((route_b, topology.port_b), (route_a, topology.port_a)):
            lines = wait_until(lambda route=route: socket_lines(route), 15,
                               f"nginx to log the WebSocket of route {route}")
            every = [x for x in procs.nginx_log(topology.site) if x["route"] == route]
            assert {x["upstream"] for x in lines} == {f"127.0.0.1:{port}"}
            assert {x["upstream"] for x in every} == {f"127.0.0.1:{port}"}
        topology.check_running()
    finally:
        redis_conn.close()
        db.dispose()


def test_reloading_an_instance_closes_its_websockets_at_once_and_keeps_serving(
    topology: Topology,
) -> None:
    """A code upgrade is a `HUP` to each instance in turn (docs/deploy.md): a new worker starts on
    the same socket and the old one must let go of its WebSockets at once, so that browsers
    reconnect to the new code instead of staying on the old worker until it is killed."""
    route_b = topology.route_cookie_for(topology.port_b)
    cookie = {"Cookie": f"infirmary_route={route_b}"}
    old_workers = procs.children(topology.web_b.pid)
    assert len(old_workers) == 1

    with procs.WebSocketProbe("127.0.0.1", topology.site.https_port,
                              "/socket.io/?EIO=4&transport=websocket", headers=cookie,
                              timeout=15) as ws:
        assert ws.accepted and ws.recv_text().startswith("0")
        os.kill(topology.web_b.pid, signal.SIGHUP)
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            ws.recv_text()  # no Engine.IO ping is due for 25 s: only a close ends this
        assert time.monotonic() - started < 5, "the old worker held its WebSocket"

    # The instance kept serving through nginx, from a new worker, and takes WebSockets again.
    procs.wait_until(lambda: procs.http_get(topology.base + "/healthz", headers=cookie).status == 200,
                     60, "web B to answer after the reload")
    new_workers = procs.wait_until(lambda: procs.children(topology.web_b.pid) - old_workers, 60,
                                   "web B's new worker")
    assert procs.wait_until(lambda: not (procs.children(topology.web_b.pid) & old_workers), 30,
                            "web B's old worker to exit")
    assert new_workers
    with procs.WebSocketProbe("127.0.0.1", topology.site.https_port,
                              "/socket.io/?EIO=4&transport=websocket", headers=cookie) as ws:
        assert ws.accepted and ws.recv_text().startswith("0")
    topology.check_running()
