"""Notification delivery latency: from a job in the worker process to connected browsers.

    .venv/bin/python bench/notify_latency.py [--scale small|full] [--target role|users|both]

Infirmary path (all separate processes, as in production):
  this process schedules a due row and dispatches it to RQ (the real dispatcher)
  -> `flask worker` runs the job: it stamps the send time, then notify() writes one row per
     recipient, commits, and the after-commit push goes out on the Redis Socket.IO channel
  -> two gunicorn web instances (gunicorn.conf.py, production config) emit to their sockets
  -> authenticated python-socketio clients (signed in through POST /login with CSRF) record
     receive time minus the send time carried in the event (same machine clock).
Floor, measured in the same run with the same clients: a bare python-socketio server (threading
mode, same gunicorn.conf.py, two instances, same Redis manager) to which this process emits the
same event through Redis: no Flask, no sign-in, no database.

--target role (default) notifies one role (one room, N rows); --target users addresses the same
N users one by one (N rooms, N pushes), as notify(user_ids=...) does; --target both alternates
them in one run and adds delivery_user_rooms_p50/p99.

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
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core import jobs  # noqa: E402
from bench import _sockets  # noqa: E402

SCALES = {
    "small": {"clients": 50, "rounds": 10},
    "full": {"clients": 500, "rounds": 30},
}
ROUND_GAP_SECONDS = 0.5
CLIENT_PROCESSES = 2
BENCH_ROLE = "doctor"
BENCH_PASSWORD = "notify latency measurement"
P99_TARGET_MS = 250


# --- code that runs in the worker process ---------------------------------------------------


@jobs.handler("bench.notify")
def _bench_notify(session: Any, payload: dict[str, Any]) -> None:
    """Stamp the send time and notify; the push leaves after this job's commit."""
    from app.domain.notifications.services import notify

    sent = time.time()
    text = json.dumps({"seq": payload["seq"], "sent": sent})
    if payload.get("user_ids"):
        notify(session, kind="bench", text=text, user_ids=payload["user_ids"])
    else:
        notify(session, kind="bench", text=text, role=BENCH_ROLE)
    # How much of the latency is notify() itself (the rows); the commit and push follow.
    print(f"BENCH notify_ms={(time.time() - sent) * 1000:.1f}", file=sys.stderr, flush=True)


def worker_app() -> Any:
    """`flask --app 'notify_latency:worker_app()' worker`: the production app, plus the handler
    above (registered when this module is imported)."""
    from app import create_app

    return create_app()


# --- the floor: a bare python-socketio server ------------------------------------------------


def floor_app() -> Any:
    """`gunicorn -c gunicorn.conf.py 'notify_latency:floor_app()'`: Socket.IO and nothing else."""
    return _sockets.floor_server("/live")


# --- client processes -------------------------------------------------------------------------


async def _run_clients(targets: list[dict[str, str]]) -> None:
    """Connect every target, say READY, record events until STOP arrives on stdin."""
    import socketio

    latencies: list[list[float]] = []
    counts = [0] * len(targets)

    def seq_of(data: Any) -> int:
        return int(json.loads(data["text"])["seq"])

    clients: list[Any] = []
    failures: list[str] = []
    gate = asyncio.Semaphore(25)

    async def connect(i: int, target: dict[str, str]) -> None:
        sio = socketio.AsyncClient(reconnection=False)

        async def on_event(data: Any) -> None:
            received = time.time()
            try:
                sent = float(json.loads(data["text"])["sent"])
            except (KeyError, TypeError, ValueError):
                return
            latencies.append([seq_of(data), (received - sent) * 1000])
            counts[i] += 1

        sio.on("event", on_event, namespace="/live")
        headers = {"Cookie": target["cookie"]} if target.get("cookie") else {}
        async with gate:
            try:
                await sio.connect(target["url"], headers=headers, namespaces=["/live"],
                                  transports=["websocket"], wait_timeout=20)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal here
                failures.append(f"{type(exc).__name__}: {exc}")
                return
        clients.append(sio)

    await asyncio.gather(*(connect(i, t) for i, t in enumerate(targets)))
    print(f"READY {len(clients)} {json.dumps(failures[:3])}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    print("RESULT " + json.dumps({"latencies": latencies, "counts": counts}), flush=True)


class ClientProcess(_sockets.ClientProcess):
    """This module's client process (bench/_sockets.py)."""

    def __init__(self, targets: list[dict[str, str]], log: Path) -> None:
        super().__init__(targets, log, __file__)


def measure(targets: list[dict[str, str]], rounds: int, send: Any, tmp: Path, label: str,
            sent_all: Any = None) -> dict[str, Any]:
    """Connect the clients (spread over processes), send `rounds` events, gather latencies."""
    shares = [targets[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    procs = [ClientProcess(share, tmp / f"clients-{label}-{i}.log") for i, share in enumerate(shares) if share]
    try:
        started = time.monotonic()
        connected = 0
        for p in procs:
            ready = p.expect("READY", timeout=180)
            count, _, errors = ready.partition(" ")
            connected += int(count)
            if errors and errors != "[]":
                print(f"  {label}: connection failures, e.g. {errors}", file=sys.stderr)
        print(f"  {label}: {connected}/{len(targets)} clients connected in "
              f"{time.monotonic() - started:.1f}s", file=sys.stderr)
        time.sleep(0.5)  # let the connection burst settle before the first event
        load_before = os.getloadavg()[0]
        for seq in range(rounds):
            send(seq)
            time.sleep(ROUND_GAP_SECONDS)
        # The last deliveries: wait (bounded) until the sender has really sent everything (a
        # slow round can queue the next one behind it), then a little longer for the clients.
        deadline = time.monotonic() + 60
        while sent_all is not None and not sent_all() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)
        pairs: list[list[float]] = []
        for p in procs:
            p.stop()
        for p in procs:
            pairs += json.loads(p.expect("RESULT", timeout=60))["latencies"]
    finally:
        for p in procs:
            p.close()
    expected = rounds * len(targets)
    print(f"  {label}: {len(pairs)}/{expected} events received; 1-min load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after", file=sys.stderr)
    by_round: dict[int, list[float]] = {}
    for seq, ms in pairs:
        by_round.setdefault(int(seq), []).append(ms)
    summary = ", ".join(f"{seq}:{len(v)}/{min(v):.0f}-{max(v):.0f}" for seq, v in sorted(by_round.items()))
    print(f"  {label} per round (seq:received/first-last ms): {summary}", file=sys.stderr)
    if by_round:
        firsts = [min(v) for v in by_round.values()]
        spreads = [max(v) - min(v) for v in by_round.values()]
        print(f"  {label}: first client reached after {statistics.median(firsts):.0f} ms (median "
              f"round), last one {statistics.median(spreads):.0f} ms after the first", file=sys.stderr)
    return {"latencies": [ms for _, ms in pairs], "pairs": pairs, "connected": connected,
            "expected": expected}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


# --- signing in ---------------------------------------------------------------------------------

CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


async def _sign_in_all(bases: list[str], usernames: list[str], password: str) -> list[str]:
    """POST /login for each user (CSRF token from the login page); return Cookie headers."""
    import aiohttp

    gate = asyncio.Semaphore(8)

    async def one(i: int, username: str) -> str:
        base = bases[i % len(bases)]
        async with gate, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(base + "/login") as r:
                match = CSRF_RE.search(await r.text())
            if match is None:
                raise RuntimeError("no CSRF token on the login page")
            async with http.post(base + "/login", data={"username": username, "password": password},
                                 headers={"X-CSRFToken": match.group(1)}, allow_redirects=False) as r:
                if r.status not in (200, 303):
                    raise RuntimeError(f"sign-in of {username} answered {r.status}")
            return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)

    return list(await asyncio.gather(*(one(i, u) for i, u in enumerate(usernames))))


# --- the run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--target", choices=("role", "users", "both"), default="role")
    parser.add_argument("--client-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_process:
        asyncio.run(_run_clients(json.loads(sys.stdin.readline())))
        return 0

    import tempfile

    from tests.deploy import procs

    n_clients, rounds = SCALES[args.scale]["clients"], SCALES[args.scale]["rounds"]
    tmp = Path(tempfile.mkdtemp(prefix="infirmary-notify-latency-"))
    print(f"notify_latency: {n_clients} clients, {rounds} notifications, target={args.target}; "
          f"logs in {tmp}", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        services = stack.enter_context(procs.database_and_redis(
            os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")))
        cluster = _sockets.Cluster(stack, services, tmp, "notify_latency:floor_app()",
                                   threads=math.ceil(n_clients / 2) + 64)
        worker = cluster.start("worker", [str(procs.VENV_BIN / "flask"), "--app",
                                          "notify_latency:worker_app()", "worker"])
        # While they boot (they need the schema only once browsers sign in): migrate, add users.
        usernames, user_ids = _create_users(services, n_clients, BENCH_PASSWORD)
        web_urls, floor_urls = cluster.wait_ready()
        started = time.monotonic()
        cookies = asyncio.run(_sign_in_all(web_urls, usernames, BENCH_PASSWORD))
        print(f"  signed in {len(cookies)} users in {time.monotonic() - started:.1f}s", file=sys.stderr)

        # Floor first: the bare server, the same clients (unauthenticated), the same event.
        import socketio

        emitter = socketio.RedisManager(services.redis_url, channel=cluster.env["FLOOR_CHANNEL"], write_only=True)

        def send_floor(seq: int) -> None:
            event = {"type": "notification", "kind": "bench", "priority": "normal", "link": None,
                     "text": json.dumps({"seq": seq, "sent": time.time()})}
            emitter.emit("event", event, namespace="/live", room="all")

        floor = measure([{"url": floor_urls[i % 2]} for i in range(n_clients)], rounds, send_floor, tmp, "floor")

        # Infirmary: a due row per notification, dispatched to RQ, delivered by the worker.
        app = _bench_app(services)

        scheduled: list[int] = []

        def send_infirmary(seq: int) -> None:
            from app.extensions import db

            payload: dict[str, Any] = {"seq": seq}
            if args.target == "users" or (args.target == "both" and seq % 2 == 1):
                payload["user_ids"] = user_ids
            with app.app_context():
                # As in production: the row is committed first (by whoever raised it), then the
                # dispatcher claims and enqueues it. A row dispatched in the transaction that
                # inserted it is invisible to the worker until that commits.
                scheduled.append(jobs.schedule(db.session, "bench.notify", payload).id)
                db.session.commit()
                jobs.dispatch(db.session)
                db.session.commit()
                db.session.remove()

        def all_delivered() -> bool:
            from sqlalchemy import func, select

            from app.extensions import db

            with app.app_context():
                try:
                    return not db.session.scalar(
                        select(func.count()).select_from(jobs.DueJob)
                        .where(jobs.DueJob.id.in_(scheduled),
                               jobs.DueJob.status.in_(("pending", "enqueued"))))
                finally:
                    db.session.remove()

        # "both" alternates the two ways of addressing, so both meet the same background load.
        infirmary = measure([{"url": web_urls[i % 2], "cookie": c} for i, c in enumerate(cookies)],
                            rounds * (2 if args.target == "both" else 1), send_infirmary, tmp,
                            "infirmary", sent_all=all_delivered)
        with app.app_context():
            from sqlalchemy import func, select

            from app.extensions import db

            states = db.session.execute(
                select(jobs.DueJob.status, func.count()).where(jobs.DueJob.id.in_(scheduled))
                .group_by(jobs.DueJob.status)).all()
            print(f"  due rows: {dict(states)}", file=sys.stderr)
            db.session.remove()
            db.engine.dispose()
        notify_ms = [float(x) for x in re.findall(r"BENCH notify_ms=([\d.]+)", worker.log())]
        if notify_ms:
            print(f"  notify() in the worker, before commit and push: median "
                  f"{statistics.median(notify_ms):.0f} ms, max {max(notify_ms):.0f} ms", file=sys.stderr)

    figures = {}
    samples = {"delivery": infirmary["latencies"]}
    if args.target == "both":
        samples = {"delivery": [ms for seq, ms in infirmary["pairs"] if int(seq) % 2 == 0],
                   "delivery_user_rooms": [ms for seq, ms in infirmary["pairs"] if int(seq) % 2 == 1]}
    for prefix, values in samples.items():
        for pct, target in ((50, None), (99, P99_TARGET_MS)):
            figures[f"{prefix}_p{pct}"] = {
                "value": round(percentile(values, pct), 1), "unit": "ms", "target": target,
                "floor": round(percentile(floor["latencies"], pct), 1)}
    delivered = len(infirmary["latencies"]) / infirmary["expected"] if infirmary["expected"] else 0
    print(f"  infirmary: mean {statistics.fmean(infirmary['latencies'] or [math.nan]):.1f} ms, "
          f"max {max(infirmary['latencies'] or [math.nan]):.1f} ms; floor: mean "
          f"{statistics.fmean(floor['latencies'] or [math.nan]):.1f} ms, "
          f"max {max(floor['latencies'] or [math.nan]):.1f} ms; delivered {delivered:.1%}",
          file=sys.stderr)
    print(json.dumps({"bench": "notify_latency", "scale": args.scale, "figures": figures}))
    return 0 if delivered == 1.0 else 1


def _bench_app(services: Any) -> Any:
    """This process's own app (test profile: cheap argon2 for the bench users), on the same
    database and Redis, to schedule and dispatch due rows."""
    from app import create_app

    return create_app("test", DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
                      RATELIMIT_STORAGE_URI="memory://")


def _create_users(services: Any, n: int, password: str) -> tuple[list[str], list[int]]:
    """N staff in one role (created once; a later run on the same database reuses them). Their
    password hashes use the cheap argon2id profile so that signing 500 people in takes seconds;
    verification cost is not what this benchmark measures."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app.core.security import SYSTEM
    from app.domain.identity import services as identity
    from app.domain.identity.models import User
    from app.extensions import db

    app = _bench_app(services)
    names = [f"bench{i:04d}" for i in range(n)]
    with app.app_context():
        upgrade()
        existing = set(db.session.scalars(select(User.username).where(User.username.in_(names))))
        for name in names:
            if name not in existing:
                identity.create_user(db.session, SYSTEM, username=name, full_name=f"Bench {name}",
                                     roles=[BENCH_ROLE], password=password)
        db.session.commit()
        ids = list(db.session.scalars(select(User.id).where(User.username.in_(names)).order_by(User.id)))
        db.session.remove()
        db.engine.dispose()
    return names, ids


if __name__ == "__main__":
    raise SystemExit(main())
