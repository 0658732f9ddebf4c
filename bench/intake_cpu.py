"""CPU per case intake inside the app: a steadier figure than `bench/intake.py` for comparing changes.

`bench/intake.py` measures what the issue asks (cases/s and latency through uvicorn over sockets),
but on the shared 2-core benchmark machine its throughput moved by a third between identical runs.
This script takes the sockets, uvicorn and the load generator's process out: it calls the ASGI app
directly from `--clients` concurrent asyncio tasks in one process (default 8; the app's own thread
pool runs the endpoint, as under uvicorn) and prints the process's CPU time per create, round by
round (with the access log formatted as under `gridgov serve`, written to /dev/null). PostgreSQL's
own CPU is not in the figure.

Scale: a fresh PostgreSQL database with the demo district (`gridgov migrate` + `gridgov demo`,
GRIDGOV_DEMO_CASES=0, on 127.0.0.1:5432, dropped at the end), `--clients` grid workers of distinct
grids, each sending `POST /api/v1/cases` with `{description, lon, lat}` (no item_code: the server
suggests it, ~15 % vague descriptions go to triage) and an Idempotency-Key, `--warmup` creates per
client unmeasured, then `--rounds` rounds of `--per-round` creates.

Usage::

    .venv/bin/python bench/intake_cpu.py                      # 8 clients, 3 rounds of 3,000 creates
    .venv/bin/python bench/intake_cpu.py --rounds 5 --per-round 2000
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # bench/calendar.py: see intake.py
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from bench.intake import (  # noqa: E402
    DEMO_PASSWORD,
    DISTRICT,
    POINTS_PER_GRID,
    Cleanup,
    GridWorker,
    Workload,
    migrated_demo_database,
    run_async,
    sample_points,
)


async def call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP request straight into the ASGI app: (status, body)."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {}}
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up

    status, chunks = 0, []

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def token(app, username: str) -> str:
    status, body = await call(app, "POST", "/api/v1/auth/token",
                              {"content-type": "application/x-www-form-urlencoded"},
                              urlencode({"username": username, "password": DEMO_PASSWORD}).encode())
    if status != 200:
        raise RuntimeError(f"log-in {username}: {status} {body[:200]!r}")
    return json.loads(body)["access_token"]


async def workload(app, clients: int, rng: random.Random) -> tuple[Workload, dict[str, str]]:
    admin = {"authorization": f"Bearer {await token(app, 'admin')}"}
    got = {}
    for name, path in (("users", "/api/v1/users?role=grid_worker&limit=500"),
                       ("grids", f"/api/v1/regions/{DISTRICT}/grids.geojson"), ("items", "/api/v1/catalog/items")):
        status, body = await call(app, "GET", path, admin)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        got[name] = json.loads(body)
    polygons = {f["properties"]["code"]: f for f in got["grids"]["features"] if f.get("geometry")}
    people = sorted((u["username"], u["region"]["code"]) for u in got["users"]["items"]
                    if u["is_active"] and u["region"]["code"] in polygons)
    workers = [GridWorker(username, code, polygons[code]["properties"]["name"],
                          sample_points(polygons[code]["geometry"], POINTS_PER_GRID, rng))
               for username, code in rng.sample(people, k=min(clients, len(people)))]
    tokens = {w.username: await token(app, w.username) for w in workers}
    return Workload(workers, [(i["code"], i["name"]) for i in got["items"]], 1.0), tokens


async def measure(url: str, var_dir: Path, clients: int, warmup: int, rounds: int, per_round: int) -> None:
    from gridgov.app import create_app
    from gridgov.core.config import Settings

    app = create_app(Settings(database_url=url, var_dir=var_dir, worker_in_process=False))
    # The access log is formatted and written as under `gridgov serve`, to /dev/null instead of the console.
    for handler in logging.getLogger("gridgov").handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the process's life)
    rng = random.Random(2026)
    load, tokens = await workload(app, clients, rng)

    async def client(worker: GridWorker, n: int) -> None:
        headers = {"authorization": f"Bearer {tokens[worker.username]}", "content-type": "application/json"}
        for _ in range(n):
            body, _text = load.case(rng, worker)
            status, answer = await call(app, "POST", "/api/v1/cases", {**headers, "idempotency-key": uuid.uuid4().hex},
                                        json.dumps(body, ensure_ascii=False).encode())
            if status != 201:
                raise RuntimeError(f"create: {status} {answer[:300]!r}")

    await asyncio.gather(*(client(w, warmup) for w in load.workers))
    each = max(1, per_round // len(load.workers))
    figures = []
    for n in range(1, rounds + 1):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client(w, each) for w in load.workers))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        creates = each * len(load.workers)
        figures.append(1000 * cpu / creates)
        print(f"round {n}: {creates} creates, {figures[-1]:.2f} ms CPU per create, {creates / wall:.0f} creates/s")
    figures.sort()
    print(f"CPU per create: median {figures[len(figures) // 2]:.2f} ms, best {figures[0]:.2f} ms "
          f"({len(load.workers)} clients in one process, {rounds} rounds)")
    app.state.engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--warmup", type=int, default=40, help="unmeasured creates per client first (default 40)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--per-round", type=int, default=3000)
    args = p.parse_args()
    cleanup = Cleanup()
    try:
        var_dir = Path(tempfile.mkdtemp(prefix="gridgov-cpu-"))
        _name, url = migrated_demo_database(cleanup, var_dir)
        run_async(measure(url, var_dir, args.clients, args.warmup, args.rounds, args.per_round))
    finally:
        cleanup.run()


if __name__ == "__main__":
    main()
