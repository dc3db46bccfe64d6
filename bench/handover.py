"""Live handover: how long a saved SBAR field takes to reach 30 connected workstations.

    .venv/bin/python bench/handover.py [--scale small|full]

Infirmary path (separate processes, as in production):
  a signed-in nurse POSTs the field (htmx form: base version, CSRF) to web instance 0
  -> the view checks and saves it (conditional UPDATE, audit row), commits, and the after-commit
     push goes out on the Redis Socket.IO channel: {entry_id, field, version, by}, no text
     (DESIGN §4)
  -> two gunicorn web instances (gunicorn.conf.py, production config: gthread, threading mode)
     emit to their sockets in the room handover:<id>
  -> 30 python-socketio clients, each signed in as a nurse of the ward and joined to the session
     over /handover (half on each instance), record receive time minus the time the POST was
     sent (the harness keeps the send time of each version; same machine clock): the push
     figure. Each then GETs the field fragment over HTTP, as the page does, with its own
     cookie: the push+fetch figure (what a nurse actually waits for to read the text).
Floor, same run, same clients: a bare python-socketio server (threading mode, same
gunicorn.conf.py, two instances, same Redis manager) to which this process emits the same
payload through Redis: no HTTP save, no Flask, no database.

PostgreSQL/Redis: DATABASE_URL and REDIS_URL when given, otherwise throwaway local servers.
The last line printed is one JSON object (DESIGN.md section 9).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from notify_latency import _sign_in_all, percentile  # noqa: E402

from bench._sockets import ClientProcess, Cluster, floor_server  # noqa: E402

SCALES = {"small": {"clients": 30, "rounds": 20}, "full": {"clients": 30, "rounds": 200}}
ROUND_GAP_SECONDS = 0.3
CLIENT_PROCESSES = 2
PASSWORD = "handover latency measurement"
P99_TARGET_MS = 250
NS = "/handover"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


# --- the floor: a bare python-socketio server ------------------------------------------------


def floor_app() -> Any:
    """`gunicorn -c gunicorn.conf.py 'handover:floor_app()'`: Socket.IO and nothing else."""
    return floor_server(NS, join=True)


# --- client processes: connect, join the session, record field.saved --------------------------


async def _run_clients(targets: list[dict[str, Any]]) -> None:
    import aiohttp
    import socketio

    # [version, push received (epoch s), fetch done (epoch s) or None]
    received: list[list[Any]] = []
    clients: list[Any] = []
    failures: list[str] = []
    pending: set[asyncio.Task[None]] = set()
    # The Cookie header is set per request; no jar may add or drop anything.
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def connect(target: dict[str, Any]) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        headers = {"Cookie": target["cookie"]} if target.get("cookie") else {}

        async def fetch(row: list[Any]) -> None:
            try:
                fetch_headers = {"Cookie": target["fetch_cookie"], "HX-Request": "true"}
                async with http.get(target["field_url"], headers=fetch_headers) as reply:
                    await reply.text()
                    if reply.status == 200:
                        row[2] = time.time()
                    else:
                        failures.append(f"fetch: HTTP {reply.status}")
            except aiohttp.ClientError as exc:
                failures.append(f"fetch: {exc}")

        async def on_event(data: Any) -> None:
            now = time.time()
            if not isinstance(data, dict) or data.get("type") != "field.saved":
                return
            row = [int(data.get("version", 0)), now, None]
            received.append(row)
            if target.get("field_url"):
                task = asyncio.create_task(fetch(row))
                pending.add(task)
                task.add_done_callback(pending.discard)

        sio.on("event", on_event, namespace=NS)
        try:
            await sio.connect(target["url"], headers=headers, namespaces=[NS],
                              transports=["websocket"], wait_timeout=20)
            reply = await sio.call("join", {"session_id": target.get("session_id", 0)},
                                   namespace=NS, timeout=20)
            if not (isinstance(reply, dict) and reply.get("ok")):
                raise RuntimeError(f"join refused: {reply}")
        except Exception as exc:  # noqa: BLE001 - reported, not fatal here
            failures.append(f"{type(exc).__name__}: {exc}")
            return
        clients.append(sio)

    await asyncio.gather(*(connect(t) for t in targets))
    print(f"READY {len(clients)} {json.dumps(failures[:3])}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if pending:
        await asyncio.wait(pending, timeout=10)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    await http.close()
    print("RESULT " + json.dumps({"received": received, "failures": failures[:3]}), flush=True)


def measure(targets: list[dict[str, Any]], rounds: int, send: Any, tmp: Path, label: str) -> dict[str, Any]:
    """`send(seq)` saves version seq + 1 and returns when it was sent (epoch seconds)."""
    shares = [targets[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    procs = [ClientProcess(share, tmp / f"clients-{label}-{i}.log", __file__)
             for i, share in enumerate(shares)]
    rows: list[list[Any]] = []
    sent: dict[int, float] = {}
    try:
        connected = 0
        for p in procs:
            count, _, errors = p.expect("READY", timeout=120).partition(" ")
            connected += int(count)
            if errors and errors != "[]":
                print(f"  {label}: connection failures, e.g. {errors}", file=sys.stderr)
        print(f"  {label}: {connected}/{len(targets)} clients joined", file=sys.stderr)
        time.sleep(0.5)
        for seq in range(rounds):
            sent[seq + 1] = send(seq)
            time.sleep(ROUND_GAP_SECONDS)
        time.sleep(1.5)
        for p in procs:
            p.stop()
        for p in procs:
            result = json.loads(p.expect("RESULT", timeout=60))
            rows += result["received"]
            if result["failures"]:
                print(f"  {label}: client failures, e.g. {result['failures']}", file=sys.stderr)
    finally:
        for p in procs:
            p.close()
    expected = rounds * len(targets)
    push = [(got - sent[v]) * 1000 for v, got, _ in rows if v in sent]
    fetched = [(done - sent[v]) * 1000 for v, _, done in rows if v in sent and done is not None]
    print(f"  {label}: {len(push)}/{expected} saves received, {len(fetched)} fetched", file=sys.stderr)
    return {"latencies": push, "fetch_latencies": fetched, "expected": expected, "connected": connected}


# --- seeding ----------------------------------------------------------------------------------


def _bench_app(services: Any) -> Any:
    from app import create_app

    return create_app("test", DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
                      RATELIMIT_STORAGE_URI="memory://", SOCKETIO_MESSAGE_QUEUE="")


def _seed(services: Any, n_users: int, beds: int) -> tuple[list[str], int, int]:
    """A ward of `beds` patients, `n_users` nurses on it, and its open handover session.
    Returns the usernames, the session id and the first entry's id."""
    from flask_migrate import upgrade

    from app.core.security import SYSTEM
    from app.domain.admissions.services import admit_to_bed
    from app.domain.facilities.models import Bed, Room, Ward
    from app.domain.handover import services as handover
    from app.domain.identity import services as identity
    from app.domain.patients import services as patients
    from app.extensions import db

    app = _bench_app(services)
    tag = secrets.token_hex(3)
    with app.app_context():
        upgrade()
        ward = Ward(code=f"HB{tag}", name=f"Handover bench {tag}")
        room = Room(code="R1")
        room.beds = [Bed(code=f"{i + 1}") for i in range(beds)]
        ward.rooms.append(room)
        db.session.add(ward)
        db.session.flush()
        from datetime import date

        for bed in room.beds:
            p = patients.register_patient(db.session, SYSTEM, patients.Demographics(
                family_name=f"Bench{bed.code}", given_names="Pat", birth_date=date(1950, 1, 1),
                sex="female"), check_duplicates=False)
            admit_to_bed(db.session, SYSTEM, p.id, bed.id)
        names = [f"hnurse{tag}{i:02d}" for i in range(n_users)]
        users = [identity.create_user(db.session, SYSTEM, username=n, full_name=f"Nurse {n}",
                                      roles=["nurse"], ward_ids=[ward.id], password=PASSWORD)[0]
                 for n in names]
        hs = handover.start_handover(db.session, users[0], ward.id, "day → night")
        entry_id = hs.entries[0].id
        session_id = hs.id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return names, session_id, entry_id


# --- the run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--client-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_process:
        asyncio.run(_run_clients(json.loads(sys.stdin.readline())))
        return 0

    from tests.deploy import procs

    n_clients, rounds = SCALES[args.scale]["clients"], SCALES[args.scale]["rounds"]
    tmp = Path(tempfile.mkdtemp(prefix="infirmary-handover-bench-"))
    print(f"handover: {n_clients} clients, {rounds} saves; logs in {tmp}", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        services = stack.enter_context(procs.database_and_redis(
            os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")))
        cluster = Cluster(stack, services, tmp, "handover:floor_app()", threads=96)
        usernames, session_id, entry_id = _seed(services, n_clients, beds=20)
        web_urls, floor_urls = cluster.wait_ready()
        cookies = asyncio.run(_sign_in_all(web_urls, usernames, PASSWORD))
        # _sign_in_all signs user i in on instance i % 2; each keeps its instance (sticky).

        import socketio

        emitter = socketio.RedisManager(services.redis_url, channel=cluster.env["FLOOR_CHANNEL"], write_only=True)

        def send_floor(seq: int) -> float:
            sent = time.time()
            emitter.emit("event", {"type": "field.saved", "session_id": session_id, "entry_id": entry_id,
                                   "field": "assessment", "version": seq + 1, "by": "Nurse"},
                         namespace=NS, room="all")
            return sent

        floor = measure([{"url": floor_urls[i % 2]} for i in range(n_clients)], rounds, send_floor,
                        tmp, "floor")

        # The saver: nurse 0 in a browser of their own on instance 0, signed in like the others,
        # with the CSRF token from the handover page.
        import requests

        http = requests.Session()
        login_page = http.get(f"{web_urls[0]}/login", timeout=10).text
        login_token = CSRF_RE.search(login_page)
        if login_token is None:
            raise RuntimeError("no CSRF token on the login page")
        http.post(f"{web_urls[0]}/login", data={"username": usernames[0], "password": PASSWORD},
                  headers={"X-CSRFToken": login_token.group(1)}, timeout=10)
        page = http.get(f"{web_urls[0]}/wards/handover/{session_id}", timeout=10)
        if page.url.rstrip("/").endswith("/login") or page.status_code != 200:
            raise RuntimeError(f"the saver is not signed in ({page.status_code} {page.url})")
        match = CSRF_RE.search(page.text)
        if match is None:
            raise RuntimeError("no CSRF token on the handover page")
        headers = {"X-CSRFToken": match.group(1), "HX-Request": "true"}
        save_url = f"{web_urls[0]}/wards/handover/entries/{entry_id}/fields/assessment"
        save_ms: list[float] = []
        failures: list[str] = []

        def send_save(seq: int) -> float:
            sent = time.time()
            try:
                reply = http.post(save_url, data={"text": json.dumps({"seq": seq, "sent": sent}),
                                                  "version": str(seq)}, headers=headers, timeout=10)
                if reply.status_code != 200:
                    failures.append(f"HTTP {reply.status_code}")
            except requests.RequestException as exc:
                failures.append(str(exc))
            save_ms.append((time.time() - sent) * 1000)
            return sent

        field_path = f"/wards/handover/entries/{entry_id}/fields/assessment/current"
        # The page's GETs go with a sign-in of their own (see docs/benchmarks.md: a cookie that
        # has opened a python-socketio connection was refused over HTTP afterwards).
        fetch_cookies = asyncio.run(_sign_in_all(web_urls, usernames, PASSWORD))
        infirmary = measure([{"url": web_urls[i % 2], "cookie": c, "session_id": session_id,
                              "field_url": web_urls[i % 2] + field_path, "fetch_cookie": fetch_cookies[i]}
                             for i, c in enumerate(cookies)], rounds, send_save, tmp, "infirmary")
        if failures:
            print(f"  {len(failures)} saves failed, e.g. {failures[0]}", file=sys.stderr)

    figures: dict[str, Any] = {}
    for pct, target in ((50, None), (99, P99_TARGET_MS)):
        figures[f"save_to_all_clients_p{pct}"] = {
            "value": round(percentile(infirmary["latencies"], pct), 1), "unit": "ms",
            "target": target, "floor": round(percentile(floor["latencies"], pct), 1)}
    # What a nurse waits for to read the text: the push, then her page's GET of the field.
    # No floor: the bare server has no HTTP field to fetch.
    for pct in (50, 99):
        figures[f"save_push_and_fetch_p{pct}"] = {
            "value": round(percentile(infirmary["fetch_latencies"], pct), 1), "unit": "ms",
            "target": None, "floor": None}
    figures["http_save_p50"] = {"value": round(statistics.median(save_ms or [math.nan]), 1),
                                "unit": "ms", "target": None, "floor": None}
    delivered = len(infirmary["latencies"]) / infirmary["expected"] if infirmary["expected"] else 0
    print(f"  infirmary: max {max(infirmary['latencies'] or [math.nan]):.1f} ms; floor max "
          f"{max(floor['latencies'] or [math.nan]):.1f} ms; delivered {delivered:.1%}", file=sys.stderr)
    print(json.dumps({"bench": "handover", "scale": args.scale, "figures": figures}))
    return 0 if delivered == 1.0 and not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
