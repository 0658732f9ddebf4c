"""Deadline-sweep benchmark: `gridgov.cases.sweep` over 1,000,000 open cases.

Scale and what is measured
--------------------------
A fresh PostgreSQL database `gridgov_bench_sweep_<random>` on 127.0.0.1 gets `gridgov migrate` and
`gridgov demo` (GRIDGOV_DEMO_CASES=0: the 芦淞区 district, its 288 grids, people, departments and
catalog), then `--cases` (default 1,000,000) open cases, written with COPY. Every case is in a timed
state (reported … verified, spread like a working system: most are being handled) with its step's
`deadline` and `warn_at` set, and its light consistent with the time T0 the data was built for:

* 70% green, warning time and deadline still ahead;
* 18% yellow (past the warning time, deadline ahead) and 10% red (overdue, with their 黄牌) — these
  are already marked, so a sweep must pass over them without touching them;
* 2% deferred (挂账: state `deferred`, clock paused), deadline past but not to be swept;
* bucket A, exactly 0.1% of all cases (`i % 10000 < 10`): cross a threshold between T0 and T1 = T0 + 60 s
  (one run of the 60-second sweep job): half green→yellow, half yellow→red;
* bucket B, exactly 1% (`10 <= i % 10000 < 110`): cross between T1 and T2 = T1 + 60 s, same halves.

It then times `sweep_until_done` (the product's job: `sweep_lights` passes of at most 5,000 cases,
each committed) at `now` =

  (a) T0 — nothing to change (the steady state of every minute),
  (b) T1 — the realistic 0.1% change (1,000 cases: updates, case events, notifications),
  (c) T2 — 1% change (10,000 cases),
  (d) T2 again — nothing to change, with 1.1% more lights yellow or red than at (a),

and prints seconds per sweep, with the two claim queries timed on their own just before it (same
`now`, in a transaction that is rolled back) so the cost of finding the cases and the cost of
handling them can be told apart.
The aim is at most 2 s per sweep. `--explain` prints the PostgreSQL plans of the claim queries at T0;
`--profile` prints a cProfile of one `sweep_lights` pass at T2, run first and rolled back.
`--partial-indexes` is an experiment: it adds two partial indexes (PARTIAL_INDEXES, not in the
product) to the benchmark database before sweeping, and `--explain` then also shows the claims
ordered by the indexed column instead of by id.

`--sqlite` runs the same on a temporary SQLite file as well (slower to build: executemany).

Usage::

    .venv/bin/python bench/sweep.py                    # 1,000,000 cases on PostgreSQL
    .venv/bin/python bench/sweep.py --cases 100000     # smaller
    .venv/bin/python bench/sweep.py --explain --profile --sqlite
    .venv/bin/python bench/sweep.py --explain --partial-indexes     # the index experiment

The database (and any temporary file) is dropped at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
# Run as a script, this file's folder is sys.path[0]; bench/calendar.py would then hide the standard
# library's `calendar`: take the folder off and import bench.intake from the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from bench.intake import Cleanup, create_database, gridgov_command, gridgov_env, run_step  # noqa: E402

SWEEP_INTERVAL = timedelta(seconds=60)  # gridgov/cases/jobs.py runs the sweep every 60 s
STATE_MIX = [  # (state, step, share of open cases)
    ("reported", "register", 0.05), ("registered", "dispatch", 0.05), ("dispatched", "sign", 0.10),
    ("handling", "handle", 0.55), ("handled", "verify", 0.15), ("verified", "close", 0.10),
]
GREEN, YELLOW, RED = 0.70, 0.18, 0.10  # the rest (2%) is paused
BUCKET = 10_000
DUE_AT_T1 = range(0, 10)  # 0.1%
DUE_AT_T2 = range(10, 110)  # 1%
COLUMNS = [
    "number", "source", "item_id", "description", "address", "lon", "lat", "grid_code", "region_path", "urgency",
    "reporter_user_id", "reporter_name", "reporter_phone_masked", "state", "level", "triage_reason", "department_id",
    "handler_id", "routing_rule", "routing_reason", "dispatch_count", "redispatched_department", "step",
    "step_started_at", "deadline", "warn_at", "carried_amount", "time_unit", "limit_amount", "paused_at",
    "paused_state", "light", "supervision", "extension_requested", "merged_into_id", "satisfaction", "version",
    "created_at", "updated_at", "closed_at",
]


# ----------------------------------------------------------------------------- the data


@dataclass
class Reference:
    """What generated cases point at: the demo's grids, catalog items and department handlers."""

    grids: list[tuple[str, str, float, float]]  # code, path, centre lon, centre lat
    items: list[int]
    handlers: list[tuple[int, int]]  # user id, department id


def read_reference(sessions) -> Reference:
    from sqlalchemy import select

    from gridgov.accounts.models import User
    from gridgov.catalog.models import CatalogItem
    from gridgov.regions.models import Region

    with sessions() as db:
        grids = [tuple(r) for r in db.execute(select(Region.code, Region.path, Region.center_lon, Region.center_lat)
                                              .where(Region.level == "grid").order_by(Region.code))]
        items = list(db.scalars(select(CatalogItem.id).order_by(CatalogItem.id)))
        handlers = [tuple(r) for r in db.execute(select(User.id, User.department_id)
                                                 .where(User.role == "dept_handler").order_by(User.id))]
    if not (grids and items and handlers):
        raise RuntimeError("the demo district is missing (grids, catalog items or department handlers)")
    return Reference(grids, items, handlers)  # type: ignore[arg-type]


def case_rows(n: int, ref: Reference, t0: datetime, seed: int) -> Iterator[tuple]:
    """n open cases as tuples in COLUMNS order (see the module docstring for the mix)."""
    rng = random.Random(seed)
    t1, t2 = t0 + SWEEP_INTERVAL, t0 + 2 * SWEEP_INTERVAL
    states = [(s, step) for s, step, _ in STATE_MIX]
    weights = [w for _, _, w in STATE_MIX]
    day = 86400.0

    def at(base: datetime, seconds: float) -> datetime:
        return base + timedelta(seconds=seconds)

    for i in range(1, n + 1):
        state, step = rng.choices(states, weights)[0]
        code, path, lon, lat = ref.grids[i % len(ref.grids)]
        handler_id, dept_id = ref.handlers[rng.randrange(len(ref.handlers))]
        held = state not in ("reported", "registered")
        limit_s = rng.choice([2, 4, 8, 16, 24]) * 3600.0  # of calendar time, here
        bucket = i % BUCKET
        paused_at = None
        supervision = ""
        if bucket in DUE_AT_T1 or bucket in DUE_AT_T2:
            lo, hi = (t0, t1) if bucket in DUE_AT_T1 else (t1, t2)
            crossing = at(lo, rng.uniform(0.001, (hi - lo).total_seconds()))
            if i % 2:  # green → yellow: the warning time falls in the window
                warn_at, deadline, light = crossing, at(crossing, 0.2 * limit_s), "green"
            else:  # yellow → red: the deadline falls in the window
                warn_at, deadline, light = at(crossing, -0.2 * limit_s), crossing, "yellow"
        else:
            r = rng.random()
            if r < GREEN:
                warn_at = at(t2, rng.uniform(60, 10 * day))
                deadline, light = at(warn_at, 0.2 * limit_s), "green"
            elif r < GREEN + YELLOW:
                deadline = at(t2, rng.uniform(60, 0.2 * limit_s))
                warn_at, light = at(deadline, -0.2 * limit_s), "yellow"
                if warn_at > t0:
                    warn_at = at(t0, -rng.uniform(1, 3600))
            elif r < GREEN + YELLOW + RED:
                deadline = at(t0, -rng.uniform(60, 60 * day))
                warn_at, light, supervision = at(deadline, -0.2 * limit_s), "red", "yellow"
            else:  # 挂账 (deferred): the clock stopped before the deadline came; the sweep must skip it
                deadline = at(t0, -rng.uniform(60, 30 * day))
                warn_at, light = at(deadline, -0.2 * limit_s), "green"
                paused_at = at(deadline, -0.5 * limit_s)
        paused_state, state = (state, "deferred") if paused_at else ("", state)
        started = at(deadline, -limit_s)
        created = at(started, -rng.uniform(0, 2 * day))
        yield (
            f"SJB{i:010d}", "grid_worker", ref.items[i % len(ref.items)],
            f"基准测试事件 {i}：路口暴露垃圾，请尽快处理", "",
            round(lon + rng.uniform(-0.002, 0.002), 7), round(lat + rng.uniform(-0.002, 0.002), 7), code, path,
            "normal", None, "", "", state, "district", "", dept_id if held else None, handler_id if held else None,
            "area_assignment" if held else "", "", 1 if held else 0, False, step, started, deadline, warn_at, 0.0,
            "work_hours", limit_s / 3600, paused_at, paused_state, light, supervision, False, None, "",
            1, created, started, None,
        )


def load_postgresql(url: str, rows: Iterator[tuple], n: int) -> float:
    """COPY into cases. Foreign-key triggers are off for this session (the rows are built from the
    database's own ids); every index is maintained as usual."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur, cur.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for k, row in enumerate(rows, start=1):
                copy.write_row(row)
                if k % 200_000 == 0:
                    print(f"  … {k:,} of {n:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.commit()
    loaded = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) cases")
    return loaded


def load_sqlite(path: Path, rows: Iterator[tuple], n: int) -> float:
    """executemany into cases, timestamps in SQLAlchemy's SQLite format (UTC, no offset)."""
    import sqlite3

    def value(v):
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, bool):
            return int(v)
        return v

    started = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        sql = f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        batch: list[tuple] = []
        for k, row in enumerate(rows, start=1):
            batch.append(tuple(value(v) for v in row))
            if len(batch) == 50_000:
                conn.executemany(sql, batch)
                batch.clear()
            if k % 200_000 == 0:
                print(f"  … {k:,} of {n:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        if batch:
            conn.executemany(sql, batch)
        conn.commit()
        loaded = time.perf_counter() - started
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return loaded


# ----------------------------------------------------------------------------- the sweeps


def claim_seconds(sessions, now: datetime) -> tuple[float, int, int]:
    """The sweep's two claim queries alone (as `sweep_lights` runs them), rolled back."""
    from gridgov.cases.models import Case
    from gridgov.cases.sweep import BATCH, _claim, _due_red, _due_yellow

    with sessions() as db:
        started = time.perf_counter()
        red = _claim(db, _due_red(now), Case.deadline, BATCH)
        yellow = _claim(db, _due_yellow(now), Case.warn_at, BATCH)
        seconds = time.perf_counter() - started
        db.rollback()
    return seconds, len(red), len(yellow)


PARTIAL_INDEXES = [  # an experiment for --partial-indexes; not part of the product's schema
    "CREATE INDEX bench_ix_cases_due_red ON cases (deadline) WHERE light <> 'red' AND paused_at IS NULL",
    "CREATE INDEX bench_ix_cases_due_yellow ON cases (warn_at) WHERE light = 'green' AND paused_at IS NULL",
]


def add_partial_indexes(url: str) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for ddl in PARTIAL_INDEXES:
            conn.execute(ddl)
        conn.execute("ANALYZE cases")
    return time.perf_counter() - started


def explain(sessions, now: datetime, variants: bool) -> None:
    """EXPLAIN ANALYZE of the claim queries as `_claim` builds them (ORDER BY id); with `variants`,
    also ordered by the column the range is on (what a partial index on it can serve directly)."""
    from sqlalchemy import select, text

    from gridgov.cases.models import Case
    from gridgov.cases.sweep import BATCH, _due_red, _due_yellow

    conditions = {"red": (_due_red(now), Case.deadline), "yellow": (_due_yellow(now), Case.warn_at)}
    with sessions() as db:
        for name, (condition, column) in conditions.items():
            for order in [Case.id, column] if variants else [Case.id]:
                q = (select(Case.id).where(condition)
                     .order_by(order).limit(BATCH).with_for_update(skip_locked=True))
                sql = str(q.compile(db.bind, compile_kwargs={"literal_binds": True}))
                plan = db.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars().all()
                print(f"plan of the {name} claim at T0, ORDER BY {order.key}:")
                print("\n".join("    " + line for line in plan))
        db.rollback()


def profile_sweep(sessions, now: datetime) -> None:
    import gridgov.cases.service  # noqa: F401  (imported by the first sweep: not part of the profile)
    from gridgov.cases.sweep import sweep_lights

    prof = cProfile.Profile()
    with sessions() as db:
        started = time.perf_counter()
        prof.enable()
        report = sweep_lights(db, now)
        prof.disable()
        seconds = time.perf_counter() - started
        db.rollback()
    print(f"cProfile of one sweep_lights pass at T2 before any other sweep (so buckets A and B are both due; "
          f"rolled back): {len(report.red)} red, {len(report.yellow)} yellow, {seconds:.2f} s under the profiler")
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"gridgov/|orm/session.py.*\((execute|flush|get|refresh|scalars)\)", 25)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip() and "function calls" not in line))


@dataclass
class SweepResult:
    label: str
    seconds: float
    claim_seconds: float
    red: int
    yellow: int


def run_sweeps(url: str, t0: datetime, profile: bool, explain_plans: bool, variants: bool) -> list[SweepResult]:
    import gridgov.cases.service  # noqa: F401  (sweep_lights imports it on first use: not part of a timing)
    from gridgov.cases.sweep import sweep_until_done
    from gridgov.core.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    t1, t2 = t0 + SWEEP_INTERVAL, t0 + 2 * SWEEP_INTERVAL
    results = []
    try:
        if explain_plans and engine.dialect.name == "postgresql":
            explain(sessions, t0, variants)
        if profile:
            profile_sweep(sessions, t2)
        for label, now in [("(a) T0, nothing changes", t0), ("(b) T1, 0.1% change", t1),
                           ("(c) T2, 1% change", t2), ("(d) T2 again, nothing changes", t2)]:
            claim, _, _ = claim_seconds(sessions, now)
            started = time.perf_counter()
            report = sweep_until_done(sessions, now)
            seconds = time.perf_counter() - started
            results.append(SweepResult(label, seconds, claim, len(report.red), len(report.yellow)))
            print(f"  {label}: {seconds:.3f} s", flush=True)
    finally:
        engine.dispose()
    return results


def print_results(backend: str, n: int, results: list[SweepResult], expected: dict[str, int]) -> None:
    print(f"\n{backend}, {n:,} open cases — seconds per sweep (aim ≤ 2 s)")
    print(f"{'sweep':<34}{'seconds':>10}{'claims alone':>14}{'red':>8}{'yellow':>8}{'expected':>10}  aim")
    for r in results:
        ok = "met" if r.seconds <= 2.0 else "NOT met"
        print(f"{r.label:<34}{r.seconds:>10.3f}{r.claim_seconds:>14.3f}{r.red:>8}{r.yellow:>8}"
              f"{expected[r.label]:>10}  {ok}")


# ----------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="open cases to generate (default 1,000,000)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--explain", action="store_true", help="print the claim queries' plans (PostgreSQL)")
    p.add_argument("--profile", action="store_true", help="cProfile the 1%% sweep (rolled back) first")
    p.add_argument("--partial-indexes", action="store_true",
                   help="experiment: add partial indexes for the two claims first (PostgreSQL; see PARTIAL_INDEXES)")
    p.add_argument("--sqlite", action="store_true", help="also run on a temporary SQLite file")
    p.add_argument("--no-postgresql", action="store_true", help="skip PostgreSQL (with --sqlite)")
    args = p.parse_args()
    if not 1_000 <= args.cases <= 5_000_000:
        p.error("--cases must be within 1,000 … 5,000,000")
    n = args.cases
    n_t1 = sum(1 for i in range(1, n + 1) if i % BUCKET in DUE_AT_T1)
    n_t2 = sum(1 for i in range(1, n + 1) if i % BUCKET in DUE_AT_T2)
    expected = {"(a) T0, nothing changes": 0, "(b) T1, 0.1% change": n_t1, "(c) T2, 1% change": n_t2,
                "(d) T2 again, nothing changes": 0}

    cleanup = Cleanup()
    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-sweep-"))
    cleanup.push(f"remove {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    try:
        print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{n:,} open cases, {n_t1:,} due at T1 and {n_t2:,} at T2")
        backends = ([] if args.no_postgresql else ["PostgreSQL"]) + (["SQLite"] if args.sqlite else [])
        for backend in backends:
            if backend == "PostgreSQL":
                name, url = create_database(cleanup, prefix="gridgov_bench_sweep")
            else:
                name, url = "SQLite file", f"sqlite:///{tmp / 'sweep.db'}"
            env = gridgov_env(url, tmp / "var")
            t_setup = run_step([*gridgov_command(), "migrate"], env, "gridgov migrate")
            t_setup += run_step([*gridgov_command(), "demo"], env, "gridgov demo")
            print(f"{backend} ({name}): migrate + demo {t_setup:.1f} s; generating {n:,} cases …", flush=True)

            from gridgov.core.db import make_engine, make_sessionmaker

            engine = make_engine(url)
            ref = read_reference(make_sessionmaker(engine))
            engine.dispose()
            t0 = datetime.now(UTC).replace(microsecond=0)
            rows = case_rows(n, ref, t0, args.seed)
            if backend == "PostgreSQL":
                loaded = load_postgresql(url, rows, n)
            else:
                loaded = load_sqlite(tmp / "sweep.db", rows, n)
            print(f"loaded {n:,} cases in {loaded:.1f} s (then ANALYZE)", flush=True)
            variants = args.partial_indexes and backend == "PostgreSQL"
            if variants:
                print(f"experiment: partial indexes added in {add_partial_indexes(url):.1f} s: "
                      + "; ".join(PARTIAL_INDEXES))
            print("sweeping …", flush=True)
            results = run_sweeps(url, t0, args.profile, args.explain, variants)
            print_results(backend + (" with the experimental partial indexes" if variants else ""), n, results,
                          expected)
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # main's `finally` has already cleaned up
        sys.exit("interrupted; the databases and processes this run started are gone")
