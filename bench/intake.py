"""Case-intake load test: grid workers reporting cases through the API, against its ceiling.

Scale and what is measured
--------------------------
`--clients` concurrent clients (default 16; asyncio tasks, each with its own keep-alive connection)
run for `--seconds` (default 60) in all, split into `--rounds` windows (default 3) that GridGov and
the ceiling take in turns (GridGov, ceiling, GridGov, …), each after `--warmup` seconds (default 5)
that are not counted: the benchmark machine's speed drifts by a third and more over minutes, and
two runs one after the other compared a fast minute with a slow one. The report gives each round's
throughputs and ratio, their median, and the whole run's figures. Each
client logs in once as its own grid worker (`wg` + grid code, password `demo-2026`, picked from
`GET /api/v1/users?role=grid_worker` as `admin`), before the clock starts, then repeats, until time
is up, one request per case:

    `POST /api/v1/cases` with `{description, lon, lat}` (a random point inside its own grid, sampled
    from the polygon of `GET /api/v1/regions/430203/grids.geojson`) and an `Idempotency-Key`.

The server does the rest of the intake in that one request: it checks the token, locates the point
in its grid, suggests the catalog item from the description (no `item_code` is sent: most
descriptions name an item, ~15 % are vague and go to triage), routes the case, and writes the case,
its event and the notifications to send (outbox) in one transaction. `--no-item-fraction` (default
1.0) is the share of creates sent without `item_code`; the others name the item themselves.

`--form` makes each iteration what the report form does instead: `GET /api/v1/grids/locate` for the
point, `GET /api/v1/catalog/suggest?description=…`, then the same `POST /api/v1/cases` (three
requests per case; the create latency is still that of the POST alone, the iteration's is of all
three).

Printed: cases/s (successful creates, 201 with an `id`, completed in the measured window, divided by
its length), p50/p99/max latency in ms of the create (`POST /api/v1/cases`) and of the whole
iteration (the same as the create unless `--form`), requests/s, errors by request and status (with
the first response body of each kind), the CPU time the server processes used per case (from /proc)
and the load generator's CPU per request and per case (time.process_time: it shares the machine with
the server, so it must stay small), and, from pg_stat_database, the time PostgreSQL spent running
statements per case, transactions per case and the connections opened during the window.

The load generator is `bench/_http.py`, a minimal HTTP/1.1 keep-alive client on an asyncio.Protocol
(uvloop when importable): requests are pre-built bytes, responses parsed only as far as needed. It
costs 0.15–0.35 ms CPU per request on the 2-core benchmark machine (more when responses come one at
a time), where httpx.AsyncClient costs 2.5–3.8 ms and would be the bottleneck. httpx is used only
for the setup (readiness, the workload, the log-ins).

Note: a request holds one pooled connection from its token check to its end, and GridGov's pool has
40 connections + 10 overflow per uvicorn worker: with many more concurrent requests than that in one
worker, requests wait for a connection (up to the pool's 30 s timeout), and such runs report
timeouts rather than a throughput.

The ceiling (`bench/ceiling_app.py`) is a bare FastAPI app, served by the same uvicorn with the
same worker count, that only validates the same JSON and inserts it as one row in the same
database. Its load is the same clients sending the same bodies, one POST per iteration. The
default run measures both and prints them side by side with the ratio.

Usage::

    .venv/bin/python bench/intake.py --start                       # both, on a fresh database
    .venv/bin/python bench/intake.py --start --clients 32 --workers 2 --seconds 60
    .venv/bin/python bench/intake.py --start --rounds 6 --seconds 120    # six turns of 20 s each
    .venv/bin/python bench/intake.py --start --no-ceiling          # GridGov only
    .venv/bin/python bench/intake.py --start --ceiling             # the ceiling only
    .venv/bin/python bench/intake.py --start --form                # GridGov: locate + suggest + create per case
    .venv/bin/python bench/intake.py --url http://127.0.0.1:8000 --no-ceiling   # a running server

`--start` creates a PostgreSQL database `gridgov_bench_<random>` on 127.0.0.1:5432 (user postgres),
runs `gridgov migrate` and `gridgov demo` (GRIDGOV_DEMO_CASES=0) into it, serves it with
`gridgov serve --port P --workers W` (GRIDGOV_WORKER_IN_PROCESS=false, so no background jobs
compete) and the ceiling app beside it, waits for both to be ready, and runs the rounds; the
server not under load meanwhile is idle. The servers are stopped and the database dropped at the end, also on errors and
Ctrl-C. Without `--start` the script runs against `--url` (and `--ceiling-url` for the ceiling).
It only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
# Run as a script, this file's folder is sys.path[0]; bench/calendar.py would then hide the standard
# library's `calendar` (imported by http.cookiejar, email …): take the folder off, add the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import atexit  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import httpx  # noqa: E402

from bench import _http  # noqa: E402

LOCAL = "127.0.0.1"
PG_ADMIN_DSN = f"host={LOCAL} port=5432 user=postgres dbname=postgres"
DEMO_PASSWORD = "demo-2026"
DISTRICT = "430203"
POINTS_PER_GRID = 64
READY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 30.0
SETUP_TIMEOUT = 900.0  # migrate / demo


# ----------------------------------------------------------------------------- clean-up


class Cleanup:
    """What this run started (databases, processes, folders), undone in reverse order exactly once:
    at the end of `main`, on an exception, on Ctrl-C / SIGTERM (turned into SystemExit) and at exit."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], None]]] = []
        atexit.register(self.run)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    @staticmethod
    def _on_signal(signum, _frame) -> None:
        raise SystemExit(128 + signum)

    def push(self, label: str, fn: Callable[[], None]) -> None:
        self._undo.append((label, fn))

    def run(self) -> None:
        while self._undo:
            label, fn = self._undo.pop()
            try:
                fn()
            except Exception as exc:  # keep undoing the rest
                print(f"clean-up: {label} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


# ----------------------------------------------------------------------------- databases and servers


def pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


def create_database(cleanup: Cleanup, prefix: str = "gridgov_bench") -> tuple[str, str]:
    """A fresh, empty PostgreSQL database; dropped by `cleanup`. Returns (name, SQLAlchemy URL)."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    cleanup.push(f"drop database {name}", lambda: drop_database(name))
    return name, f"postgresql+psycopg://postgres@{LOCAL}:5432/{name}"


def drop_database(name: str) -> None:
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gridgov_command() -> list[str]:
    script = Path(sys.executable).parent / "gridgov"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridgov.cli"]


def gridgov_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The benchmarks bring their own cases and need no demo population.
    env.update(GRIDGOV_DATABASE_URL=database_url, GRIDGOV_DEMO_CASES="0", GRIDGOV_DEMO_RESIDENTS="0",
               GRIDGOV_WORKER_IN_PROCESS="false", GRIDGOV_VAR_DIR=str(var_dir))
    env.update(extra)
    return env


def run_step(args: list[str], env: dict[str, str], what: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SETUP_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def migrated_demo_database(cleanup: Cleanup, var_dir: Path) -> tuple[str, str]:
    """A fresh database holding the demo district (no past cases): `gridgov migrate` + `gridgov demo`."""
    name, url = create_database(cleanup)
    env = gridgov_env(url, var_dir)
    t_migrate = run_step([*gridgov_command(), "migrate"], env, "gridgov migrate")
    t_demo = run_step([*gridgov_command(), "demo"], env, "gridgov demo")
    print(f"database {name}: gridgov migrate {t_migrate:.1f} s, gridgov demo (GRIDGOV_DEMO_CASES=0) {t_demo:.1f} s")
    return name, url


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        """SIGTERM to the process group it leads (the server and its uvicorn workers), then SIGKILL."""
        pgid = self.proc.pid  # started with start_new_session: its pid is its group's id
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # a worker left behind by its parent
            os.killpg(pgid, signal.SIGKILL)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def start_server(cleanup: Cleanup, name: str, args: list[str], env: dict[str, str], port: int,
                 log_path: Path) -> Server:
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(name, proc, f"http://{LOCAL}:{port}", log_path)
    cleanup.push(f"stop {name}", server.stop)
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=5.0) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if http.get(f"{server.url}/readyz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready after {READY_TIMEOUT:.0f} s:\n{server.log_tail()}")
            time.sleep(0.25)


def start_gridgov(cleanup: Cleanup, database_url: str, var_dir: Path, workers: int, log_dir: Path) -> Server:
    port = free_port()
    args = [*gridgov_command(), "serve", "--host", LOCAL, "--port", str(port), "--workers", str(workers)]
    return start_server(cleanup, "gridgov serve", args, gridgov_env(database_url, var_dir), port,
                        log_dir / "gridgov-serve.log")


def start_ceiling(cleanup: Cleanup, database_url: str, workers: int, log_dir: Path) -> Server:
    port = free_port()
    args = [sys.executable, str(_HERE / "ceiling_app.py"), "--port", str(port), "--workers", str(workers),
            "--database-url", database_url]
    return start_server(cleanup, "ceiling app", args, dict(os.environ), port, log_dir / "ceiling.log")


# ----------------------------------------------------------------------------- CPU accounting


def _cpu_seconds(pid: str) -> tuple[int, float] | None:
    """(process group, user+system CPU seconds) of a process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # after "pid (comm) ": state ppid pgrp session … utime(12th) stime(13th)
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(server_pgid: int | None) -> float:
    """CPU seconds used so far by the processes of the server's process group (uvicorn and its workers)."""
    if server_pgid is None:
        return 0.0
    total = 0.0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        got = _cpu_seconds(pid)
        if got is not None and got[0] == server_pgid:
            total += got[1]
    return total


PG_STATS = ("sessions", "active_time", "xact_commit", "xact_rollback")


def pg_stats(database: str | None) -> dict[str, float]:
    """The database's counters in pg_stat_database: connections opened (`sessions`), milliseconds its
    backends spent running statements (`active_time`), transactions. PostgreSQL's own accounting, so it
    also counts backends that came and went (short-lived pool overflow connections), which /proc cannot."""
    if database is None:
        return {}
    with pg_admin() as conn:
        row = conn.execute(f"SELECT {', '.join(PG_STATS)} FROM pg_stat_database WHERE datname = %s",
                           (database,)).fetchone()
    return dict(zip(PG_STATS, map(float, row), strict=True)) if row else {}


# ----------------------------------------------------------------------------- the workload


PLACES = ["路口", "小区门口", "菜市场旁", "公交站台", "学校附近", "河边步道", "商铺前", "停车场", "巷子里", "广场东侧"]
DETAILS = ["请尽快处理", "已经持续两天", "影响行人通行", "居民多次反映", "存在安全隐患", "晚上尤其明显"]
VAGUE = ["这里有个情况需要有人来看看", "现场情况比较复杂，说不清楚", "有群众聚集，原因不明"]


@dataclass
class GridWorker:
    username: str
    grid_code: str
    grid_name: str
    points: list[tuple[float, float]]


@dataclass
class Workload:
    workers: list[GridWorker]
    items: list[tuple[str, str]]  # (code, name)
    no_item_fraction: float

    def case(self, rng: random.Random, worker: GridWorker) -> tuple[dict, str]:
        """(JSON body of a create, its description) for a random point of the worker's grid."""
        lon, lat = rng.choice(worker.points)
        code, name = rng.choice(self.items)
        if rng.random() < self.no_item_fraction:
            # No item: the server suggests one (most of these still name it) or sends it to triage.
            text = rng.choice(VAGUE) if rng.random() < 0.15 else f"{rng.choice(PLACES)}{name}，{rng.choice(DETAILS)}"
            return {"description": text, "lon": lon, "lat": lat}, text
        text = f"{worker.grid_name}{rng.choice(PLACES)}{name}，{rng.choice(DETAILS)}"
        return {"description": text, "lon": lon, "lat": lat, "item_code": code}, text


def sample_points(geometry: dict, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """n uniform random points strictly inside a GeoJSON polygon (rejection sampling in its box)."""
    import numpy as np
    import shapely

    poly = shapely.geometry.shape(geometry)
    shapely.prepare(poly)
    x0, y0, x1, y1 = poly.bounds
    gen = np.random.default_rng(rng.getrandbits(32))
    points: list[tuple[float, float]] = []
    for _ in range(100):  # bounded: a grid is never that thin
        xs, ys = gen.uniform(x0, x1, 4 * n), gen.uniform(y0, y1, 4 * n)
        inside = shapely.contains_xy(poly, xs, ys)
        points += [(round(float(x), 7), round(float(y), 7)) for x, y in zip(xs[inside], ys[inside], strict=True)]
        if len(points) >= n:
            return points[:n]
    raise RuntimeError("could not sample points inside a grid")


def login(http: httpx.Client, base: str, username: str) -> str:
    r = http.post(f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    r.raise_for_status()
    return r.json()["access_token"]


def load_workload(base: str, clients: int, no_item_fraction: float, seed: int) -> Workload:
    """Grid workers, their grids' polygons and the catalog, read from the API as `admin`."""
    rng = random.Random(seed)
    with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
        auth = {"Authorization": f"Bearer {login(http, base, 'admin')}"}
        users = http.get(f"{base}/api/v1/users", params={"role": "grid_worker", "limit": 500}, headers=auth)
        users.raise_for_status()
        grids = http.get(f"{base}/api/v1/regions/{DISTRICT}/grids.geojson", headers=auth)
        grids.raise_for_status()
        items = http.get(f"{base}/api/v1/catalog/items", headers=auth)
        items.raise_for_status()
    polygons = {f["properties"]["code"]: f for f in grids.json()["features"] if f.get("geometry")}
    people = sorted((u["username"], u["region"]["code"]) for u in users.json()["items"]
                    if u["is_active"] and u["region"]["code"] in polygons)
    if not people:
        raise RuntimeError("no grid workers with a grid polygon: is the demo district loaded?")
    chosen = rng.sample(people, k=min(clients, len(people)))
    workers = [GridWorker(username, code, polygons[code]["properties"]["name"],
                          sample_points(polygons[code]["geometry"], POINTS_PER_GRID, rng))
               for username, code in chosen]
    catalog = [(i["code"], i["name"]) for i in items.json() if i.get("active", True)]
    return Workload(workers, catalog, no_item_fraction)


# ----------------------------------------------------------------------------- the load


@dataclass
class Stats:
    label: str
    measured_s: float = 0.0
    creates: int = 0
    requests: int = 0
    create_ms: list[float] = field(default_factory=list)
    iteration_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_bodies: dict[str, str] = field(default_factory=dict)  # the first response body of each error kind
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    pg: dict[str, float] = field(default_factory=dict)  # pg_stat_database deltas over the window
    requests_per_iteration: int = 1
    connections: int = 0  # opened by the load generator over the whole run (= clients if keep-alive held)

    def add(self, part: Stats) -> None:
        """Adds a later window's figures to these (rounds of one kind)."""
        self.measured_s += part.measured_s
        self.creates += part.creates
        self.requests += part.requests
        self.create_ms += part.create_ms
        self.iteration_ms += part.iteration_ms
        self.errors += part.errors
        for kind, body in part.error_bodies.items():
            self.error_bodies.setdefault(kind, body)
        self.client_cpu_s += part.client_cpu_s
        self.server_cpu_s += part.server_cpu_s
        self.pg = {k: self.pg.get(k, 0.0) + v for k, v in part.pg.items()}
        self.requests_per_iteration = part.requests_per_iteration
        self.connections += part.connections

    def error(self, kind: str, body: bytes | str = "") -> None:
        self.errors[kind] += 1
        if body and kind not in self.error_bodies:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            self.error_bodies[kind] = text[:300]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Window:
    start: float  # perf_counter: measuring starts (after warm-up)
    end: float  # no iteration starts after this

    def counts(self, t0: float, t_done: float) -> bool:
        return t0 >= self.start and t_done <= self.end


@dataclass
class Target:
    """Where the load goes: host and port to connect to, the Host header, the URL's path prefix."""

    host: str
    port: int
    netloc: str
    prefix: str

    @classmethod
    def of(cls, base: str) -> Target:
        u = urlsplit(base)
        return cls(u.hostname or LOCAL, u.port or 80, u.netloc, u.path.rstrip("/"))

    def head(self, method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
        return _http.request_head(method, self.prefix + path, self.netloc, headers)


def idempotency_key() -> bytes:
    return b"Idempotency-Key: %s\r\n" % uuid.uuid4().hex.encode()


async def _call(conn: _http.Connection, name: str, request: bytes, stats: Stats, counted: bool,
                ok_status: int = 200) -> _http.Response | None:
    try:
        r = await conn.request(request)
    except _http.ClientError as exc:
        if counted:
            stats.error(f"{name}: {type(exc).__name__}", str(exc))
        await asyncio.sleep(0.05)  # the server may be gone; do not spin
        return None
    if counted:
        stats.requests += 1
        if r.status != ok_status:
            stats.error(f"{name}: HTTP {r.status}", r.body)
    return r


def _created(r: _http.Response | None, name: str, stats: Stats, counted: bool) -> bool:
    """A 201 whose JSON body has the new record's id."""
    if r is None or r.status != 201:
        return False
    try:
        ok = r.json().get("id") is not None
    except (ValueError, AttributeError):
        ok = False
    if not ok and counted:
        stats.error(f"{name}: 201 without an id", r.body)
    return ok


async def intake_client(conn: _http.Connection, target: Target, workload: Workload, worker: GridWorker,
                        token: str, rng: random.Random, window: Window, stats: Stats, form: bool) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    create = target.head("POST", "/api/v1/cases", {**auth, "Content-Type": "application/json"})
    while (t0 := time.perf_counter()) < window.end:
        counted = t0 >= window.start
        body, text = workload.case(rng, worker)
        if form:
            query = _http.query_string({"lon": body["lon"], "lat": body["lat"]})
            located = await _call(conn, "GET /grids/locate", _http.request_bytes(
                target.head("GET", "/api/v1/grids/locate" + query, auth)), stats, counted)
            if located is not None and located.status == 200 and counted:
                try:
                    code = located.json()["grid"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = None
                if code != worker.grid_code:
                    stats.error("GET /grids/locate: another grid", located.body)
            query = _http.query_string({"description": text})
            await _call(conn, "GET /catalog/suggest", _http.request_bytes(
                target.head("GET", "/api/v1/catalog/suggest" + query, auth)), stats, counted)
        request = _http.request_bytes(create, _http.json_body(body), idempotency_key())
        t1 = time.perf_counter()
        created = await _call(conn, "POST /cases", request, stats, counted, ok_status=201)
        t2 = time.perf_counter()
        if _created(created, "POST /cases", stats, counted) and window.counts(t0, t2):
            stats.creates += 1
            stats.create_ms.append((t2 - t1) * 1000)
            stats.iteration_ms.append((t2 - t0) * 1000)


async def ceiling_client(conn: _http.Connection, target: Target, workload: Workload, worker: GridWorker,
                         rng: random.Random, window: Window, stats: Stats) -> None:
    create = target.head("POST", "/bench/cases", {"Content-Type": "application/json"})
    while (t0 := time.perf_counter()) < window.end:
        counted = t0 >= window.start
        body, _ = workload.case(rng, worker)
        request = _http.request_bytes(create, _http.json_body(body), idempotency_key())
        t1 = time.perf_counter()
        created = await _call(conn, "POST /bench/cases", request, stats, counted, ok_status=201)
        t2 = time.perf_counter()
        if _created(created, "POST /bench/cases", stats, counted) and window.counts(t0, t2):
            stats.creates += 1
            stats.create_ms.append((t2 - t1) * 1000)
            stats.iteration_ms.append((t2 - t0) * 1000)


async def log_in_all(base: str, workload: Workload, clients: int) -> list[str]:
    """A token per client (client i is grid worker i mod len(workers)). Log-ins are argon2-slow on
    purpose: done once, before the clock starts, with httpx (speed does not matter here)."""
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        async def token_for(worker: GridWorker) -> str:
            r = await http.post(f"{base}/api/v1/auth/token",
                                data={"username": worker.username, "password": DEMO_PASSWORD})
            r.raise_for_status()
            return r.json()["access_token"]

        return await asyncio.gather(*(token_for(workload.workers[i % len(workload.workers)])
                                      for i in range(clients)))


async def run_load(kind: str, base: str, workload: Workload, clients: int, seconds: float, warmup: float,
                   seed: int, server: Server | None, database: str | None, form: bool = False,
                   tokens: list[str] | None = None) -> Stats:
    stats = Stats(label=kind, requests_per_iteration=3 if kind == "intake" and form else 1)
    if kind == "intake" and tokens is None:
        tokens = await log_in_all(base, workload, clients)
    target = Target.of(base)
    conns = [_http.Connection(target.host, target.port, REQUEST_TIMEOUT) for _ in range(clients)]
    now = time.perf_counter()
    window = Window(start=now + warmup, end=now + warmup + seconds)
    tasks = []
    for i in range(clients):
        worker = workload.workers[i % len(workload.workers)]
        rng = random.Random(seed * 1000 + i)
        if kind == "intake":
            tasks.append(intake_client(conns[i], target, workload, worker, tokens[i], rng, window, stats, form))
        else:
            tasks.append(ceiling_client(conns[i], target, workload, worker, rng, window, stats))

    async def measure() -> tuple[float, float, dict, float, float, dict]:
        # The load generator's own clock is read innermost, so that reading /proc and PostgreSQL's
        # counters is not charged to it.
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        pgid = server.proc.pid if server else None
        pg0, srv0 = pg_stats(database), server_cpu_seconds(pgid)
        mine0 = time.process_time()
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        mine1 = time.process_time()
        srv1, pg1 = server_cpu_seconds(pgid), pg_stats(database)
        return srv0, mine0, pg0, srv1, mine1, pg1

    try:
        async with asyncio.timeout(warmup + seconds + 2 * REQUEST_TIMEOUT):  # bounded, whatever the server does
            *_, (srv0, mine0, pg0, srv1, mine1, pg1) = await asyncio.gather(*tasks, measure())
    finally:
        for conn in conns:
            conn.close()
    stats.measured_s = seconds
    stats.client_cpu_s = mine1 - mine0
    stats.server_cpu_s = srv1 - srv0
    stats.pg = {k: pg1[k] - pg0[k] for k in pg1 if k in pg0}
    stats.connections = sum(conn.connects for conn in conns)
    return stats


def run_async(coro):
    """Run a coroutine on a uvloop event loop when uvloop is importable (less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# ----------------------------------------------------------------------------- report


def rows_for(s: Stats) -> dict[str, str]:
    def per_case(cpu: float) -> str:
        return f"{1000 * cpu / s.creates:.1f} ms" if s.creates else "—"

    def per_request(cpu: float) -> str:
        return f"{1000 * cpu / s.requests:.3f} ms" if s.requests else "—"

    errors = ", ".join(f"{k} ×{v}" for k, v in s.errors.most_common()) or "none"
    return {
        "requests per iteration": str(s.requests_per_iteration),
        "cases created (measured)": f"{s.creates}",
        "cases/s": f"{s.creates / s.measured_s:.1f}",
        "create p50 ms": f"{percentile(s.create_ms, 50):.1f}",
        "create p99 ms": f"{percentile(s.create_ms, 99):.1f}",
        "create max ms": f"{max(s.create_ms, default=float('nan')):.1f}",
        "iteration p50 ms": f"{percentile(s.iteration_ms, 50):.1f}",
        "iteration p99 ms": f"{percentile(s.iteration_ms, 99):.1f}",
        "requests/s": f"{s.requests / s.measured_s:.1f}",
        "server CPU per case": per_case(s.server_cpu_s),
        "server CPU (cores)": f"{s.server_cpu_s / s.measured_s:.2f}",
        "load generator CPU per request": per_request(s.client_cpu_s),
        "load generator CPU per case": per_case(s.client_cpu_s),
        "load generator CPU (cores)": f"{s.client_cpu_s / s.measured_s:.2f}",
        "load generator connections": f"{s.connections}",
        "postgres active per case": per_case(s.pg["active_time"] / 1000) if s.pg else "—",
        "postgres transactions per case": (f"{(s.pg['xact_commit'] + s.pg['xact_rollback']) / s.creates:.1f}"
                                           if s.pg and s.creates else "—"),
        "postgres connections opened": f"{s.pg['sessions']:.0f}" if s.pg else "—",
        "errors": errors,
    }


def print_report(results: list[Stats]) -> None:
    def title(s: Stats) -> str:
        if s.label == "ceiling":
            return "ceiling (insert only)"
        return "GridGov form (3 req)" if s.requests_per_iteration == 3 else "GridGov intake"

    tables = [rows_for(s) for s in results]
    width = max(len(k) for k in tables[0])
    print()
    print(" " * width + "  " + "".join(f"{title(s):>24}" for s in results))
    for key in tables[0]:
        if key == "errors":
            continue
        print(f"{key:<{width}}  " + "".join(f"{t[key]:>24}" for t in tables))
    for s, t in zip(results, tables, strict=True):
        print(f"errors, {title(s)}: {t['errors']}")
        for kind, body in s.error_bodies.items():
            print(f"    first {kind}: {body}")
    for s in results:
        if s.requests and 1000 * s.client_cpu_s / s.requests > 0.5:
            print(f"note: the load generator used {1000 * s.client_cpu_s / s.requests:.2f} ms CPU per request in "
                  f"'{title(s)}' (aim < 0.5 ms): on a busy machine it may be what limits the run")
    by = {s.label: s for s in results}
    if "intake" in by:
        s = by["intake"]
        rate, p99 = s.creates / s.measured_s, percentile(s.create_ms, 99)
        met = rate >= 300 and p99 <= 150
        print(f"aim ≥ 300 cases/s at create p99 ≤ 150 ms: {rate:.0f} cases/s, p99 {p99:.0f} ms → "
              f"{'met' if met else 'NOT met'}")
    if "intake" in by and "ceiling" in by and by["ceiling"].creates:
        ratio = by["intake"].creates / by["ceiling"].creates
        print(f"intake / ceiling throughput: {100 * ratio:.1f}% (aim ≥ 50%)")


def print_rounds(by_round: list[dict[str, Stats]]) -> None:
    """Each round's cases/s, and the intake / ceiling ratio within the round (both measured minutes
    apart at most), with the median of those ratios."""
    if len(by_round) < 2 and not all("intake" in r and "ceiling" in r for r in by_round):
        return
    ratios = []
    print()
    for n, r in enumerate(by_round, 1):
        parts = [f"{kind} {s.creates / s.measured_s:.1f} cases/s" for kind, s in r.items()]
        line = f"round {n}: " + ", ".join(parts)
        if "intake" in r and "ceiling" in r and r["ceiling"].creates:
            ratios.append(r["intake"].creates / r["ceiling"].creates)
            line += f" → {100 * ratios[-1]:.1f}%"
        print(line)
    if ratios:
        ordered = sorted(ratios)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        print(f"intake / ceiling per round: median {100 * median:.1f}%, "
              f"from {100 * ordered[0]:.1f}% to {100 * ordered[-1]:.1f}%")


# ----------------------------------------------------------------------------- main


def local_url(url: str, option: str) -> str:
    host = urlsplit(url).hostname
    if host not in (LOCAL, "localhost"):
        raise SystemExit(f"{option} must point at {LOCAL} (got {url!r})")
    return url.rstrip("/")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--seconds", type=float, default=60.0, help="measured seconds per run (default 60)")
    p.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first (default 5)")
    p.add_argument("--url", default=f"http://{LOCAL}:8000", help="a running GridGov server (without --start)")
    p.add_argument("--ceiling-url", default="", help="a running bench/ceiling_app.py (without --start)")
    p.add_argument("--start", action="store_true", help="create a database and start the servers")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers of both servers with --start (default 2)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--ceiling", action="store_true", help="run only the ceiling")
    which.add_argument("--no-ceiling", action="store_true", help="run only GridGov")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--form", action="store_true",
                       help="GridGov iterations do what the report form does: GET /api/v1/grids/locate, "
                            "GET /api/v1/catalog/suggest, then POST /api/v1/cases (default: only the POST)")
    shape.add_argument("--create-only", action="store_true",
                       help="only the POST /api/v1/cases per case: the default, kept for old command lines")
    p.add_argument("--no-item-fraction", type=float, default=1.0,
                   help="share of creates sent without item_code, so that the server suggests the item "
                        "(default 1.0)")
    p.add_argument("--rounds", type=int, default=3,
                   help="measured windows per kind, taken in turns (GridGov, ceiling, GridGov, …) so that a "
                        "machine whose speed drifts weighs on both alike; --seconds is split among them "
                        "(default 3)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (their folder is printed)")
    args = p.parse_args()
    if not (1 <= args.clients <= 200 and 0 < args.seconds <= 3600 and 0 <= args.warmup <= 600):
        p.error("--clients 1..200, --seconds up to 3600, --warmup up to 600")
    if not 1 <= args.rounds <= 20:
        p.error("--rounds 1..20")
    if not 0 <= args.no_item_fraction <= 1:
        p.error("--no-item-fraction is a share: 0..1")
    kinds = ["ceiling"] if args.ceiling else ["intake"] if args.no_ceiling else ["intake", "ceiling"]
    url = local_url(args.url, "--url")
    if not args.start and "ceiling" in kinds and not args.ceiling_url:
        p.error("the ceiling needs --start or --ceiling-url (or pass --no-ceiling)")

    cleanup = Cleanup()
    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    cleanup.push(f"remove {tmp}", lambda: None if args.keep_logs else shutil.rmtree(tmp, ignore_errors=True))
    try:
        print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{args.clients} clients, {args.seconds:g} s measured after {args.warmup:g} s warm-up, "
              f"{'uvicorn workers ' + str(args.workers) if args.start else 'servers already running'}")
        database = None
        servers: dict[str, Server | None] = {"intake": None, "ceiling": None}
        if args.start:
            database, db_url = migrated_demo_database(cleanup, tmp / "var")
            # Both servers are up from here on; the one not under load is idle.
            if "intake" in kinds:
                servers["intake"] = start_gridgov(cleanup, db_url, tmp / "var", args.workers, tmp)
                url = servers["intake"].url
            if "ceiling" in kinds:
                servers["ceiling"] = start_ceiling(cleanup, db_url, args.workers, tmp)
        ceiling_url = (servers["ceiling"].url if servers["ceiling"] else
                       local_url(args.ceiling_url, "--ceiling-url") if "ceiling" in kinds else "")
        if args.start and "intake" not in kinds:  # the workload is read from GridGov: serve it for that
            server = start_gridgov(cleanup, db_url, tmp / "var", args.workers, tmp)
            url = server.url
            workload = load_workload(url, args.clients, args.no_item_fraction, args.seed)
            server.stop()
        else:
            # The workload is read from GridGov, whichever runs: the ceiling gets the very same bodies.
            workload = load_workload(url, args.clients, args.no_item_fraction, args.seed)
        print(f"workload: {len(workload.workers)} grid workers, {len(workload.items)} catalog items, "
              f"{POINTS_PER_GRID} points per grid, {100 * args.no_item_fraction:g}% of creates without item_code")
        tokens = run_async(log_in_all(url, workload, args.clients)) if "intake" in kinds else None
        shape = "locate + suggest + create per case (--form)" if args.form else "one POST /api/v1/cases per case"
        bases = {"intake": url, "ceiling": ceiling_url}
        print(f"GridGov intake at {url} ({shape})" if "intake" in kinds else "", end="")
        print(f"{'; ' if 'intake' in kinds else ''}ceiling at {ceiling_url}" if "ceiling" in kinds else "")
        each = args.seconds / args.rounds
        totals = {kind: Stats(label=kind) for kind in kinds}
        by_round: list[dict[str, Stats]] = []
        for n in range(1, args.rounds + 1):
            this: dict[str, Stats] = {}
            for kind in kinds:
                print(f"round {n}/{args.rounds}: {kind}, {each:g} s …", flush=True)
                this[kind] = run_async(run_load(kind, bases[kind], workload, args.clients, each, args.warmup,
                                                args.seed + n, servers[kind], database, form=args.form,
                                                tokens=tokens))
                totals[kind].add(this[kind])
            by_round.append(this)
        for server in servers.values():
            if server is not None:
                server.stop()
        results = [totals[kind] for kind in kinds]
        print_rounds(by_round)
        print_report(results)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep_logs:
            print(f"server logs kept in {tmp}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # main's `finally` has already cleaned up
        sys.exit("interrupted; the databases and processes this run started are gone")
