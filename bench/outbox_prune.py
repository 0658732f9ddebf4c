"""Outbox-pruning benchmark: `notify.prune_outbox` deleting 1,000,000 delivered notifications on PostgreSQL.

Scale and what is measured
--------------------------
A fresh PostgreSQL database `gridgov_bench_outbox_<random>` on 127.0.0.1 gets `gridgov migrate`, one
district and one user, then (INSERT … SELECT generate_series, then VACUUM ANALYZE), for `--rows` N
(default 1,000,000):

* N in-app messages sent 31–90 days before the clock T, each with its in-app notice (`inbox`), and
  after each its SMS copy (a sent webhook message): 2N old sent messages, interleaved as delivery
  writes them;
* N/10 messages of each kind sent in the last 30 days (kept), and 1,000 old pending and 1,000 old
  dead webhook messages (never deleted by age).

It then times the job as the worker runs it (`prune_outbox`, batches of `PRUNE_BATCH`, each
committed), at `now` = T with `outbox_keep_days` = 30, without the job's per-run time limit:

  (a) the 2N old messages go; the N in-app notices stay, their outbox_id set to NULL (0016);
  (b) again, nothing left to delete: what every hourly run then costs;

and prints rows deleted, seconds and rows/s for each. `--explain` prints the plan of one batch's
DELETE first. The database is dropped at the end, also on errors and Ctrl-C.

Usage::

    .venv/bin/python bench/outbox_prune.py                 # N = 1,000,000
    .venv/bin/python bench/outbox_prune.py --rows 100000 --explain
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
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from bench.intake import Cleanup, create_database, gridgov_command, gridgov_env, run_step  # noqa: E402

KEEP_DAYS = 30


def recipient(sessions) -> int:
    """A district and the one user every message is for."""
    import gridgov.models  # noqa: F401  (every table, so relationships resolve)
    from gridgov.accounts.models import User
    from gridgov.regions.models import Region

    with sessions() as db:
        db.add(Region(code="430203", name="芦淞区", level="district", kind="区", path="/430203/"))
        user = User(username="bench", display_name="bench", password_hash="!", role="district_dispatcher",
                    region_code="430203")
        db.add(user)
        db.commit()
        return user.id


def load(dsn: str, user: int, n: int, t: datetime) -> float:
    """The messages and notices of the module docstring, written by the database itself."""
    import psycopg

    recent = max(n // 10, 1)
    columns = ("topic, channel, user_id, title, body, link, payload, status, attempts, next_attempt_at, last_error, "
               "created_at, sent_at")
    # Message k (1 … n) was written and delivered at `sent`; its SMS copy was written then and posted
    # at once (leased from `sent` + 1 s: next_attempt_at is the lease's end, as delivery leaves it).
    pair = f"""
        INSERT INTO outbox ({columns})
        SELECT 'case.assigned', c.channel, %(user)s, '事件 #' || g || ' 已派给您', '', '/cases/' || g, '{{}}'::json,
               'sent', 0,
               CASE c.channel WHEN 'inbox' THEN s.sent ELSE s.sent + interval '121 seconds' END, '', s.sent,
               CASE c.channel WHEN 'inbox' THEN s.sent ELSE s.sent + interval '1 second' END
        FROM generate_series(1, %(n)s) g
        CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + (g - 1) * %(step)s::interval AS sent) s
        CROSS JOIN (VALUES (1, 'inbox'), (2, 'webhook')) c(k, channel)
        ORDER BY g, c.k"""
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        old_start, old_end = t - timedelta(days=90), t - timedelta(days=KEEP_DAYS + 1)
        conn.execute(pair, {"user": user, "n": n, "start": old_start, "step": (old_end - old_start) / n})
        new_start = t - timedelta(days=KEEP_DAYS - 1)
        conn.execute(pair, {"user": user, "n": recent, "start": new_start, "step": (t - new_start) / recent})
        for status in ("pending", "dead"):
            conn.execute(f"""
                INSERT INTO outbox ({columns})
                SELECT 'case.assigned', 'webhook', %(user)s, '未送达 ' || g, '', '', '{{}}'::json, %(status)s, 8,
                       %(at)s::timestamptz + g * interval '1 minute', 'HTTP 500', %(at)s::timestamptz, NULL
                FROM generate_series(1, 1000) g""", {"user": user, "status": status, "at": old_start})
        conn.execute("""
            INSERT INTO inbox (outbox_id, user_id, topic, title, body, link, created_at)
            SELECT id, user_id, topic, title, body, link, created_at FROM outbox
            WHERE channel = 'inbox' AND status = 'sent' ORDER BY id""")
        conn.commit()
    loaded = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) outbox")
        conn.execute("VACUUM (ANALYZE) inbox")
        counts = conn.execute("SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM inbox)").fetchone()
    print(f"loaded {counts[0]:,} outbox messages and {counts[1]:,} in-app notices in {loaded:.1f} s "
          f"(then VACUUM ANALYZE)", flush=True)
    return loaded


def explain(sessions, t: datetime) -> None:
    """EXPLAIN ANALYZE of one batch's DELETE as `delete_delivered` builds it on this schema (rolled back)."""
    import psycopg
    from sqlalchemy import event, func, select

    from gridgov.notify import retention
    from gridgov.notify.jobs import PRUNE_BATCH
    from gridgov.notify.models import OutboxMessage

    captured: list[str] = []
    with sessions() as db:
        newest = db.scalar(select(func.max(OutboxMessage.id)))

        def capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("DELETE"):
                captured.append(psycopg.ClientCursor(cursor.connection).mogrify(statement, parameters))

        engine = db.get_bind()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            retention.delete_delivered(db, retention.cutoff(t, KEEP_DAYS), below_id=newest, batch=PRUNE_BATCH)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        db.rollback()
        plan = db.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + captured[0]).scalars().all()
        db.rollback()
    print("plan of one batch (rolled back):")
    print("\n".join("    " + line for line in plan))


def run(sessions, settings, t: datetime, label: str) -> tuple[str, int, int, float]:
    from gridgov.notify.jobs import prune_outbox

    started = time.perf_counter()
    report = prune_outbox(sessions, settings, now=t, seconds=float("inf"), resume={})
    seconds = time.perf_counter() - started
    rate = report.deleted / seconds if seconds else 0.0
    print(f"  {label}: {report.deleted:,} deleted in {report.batches} batches, {seconds:.2f} s, {rate:,.0f} rows/s",
          flush=True)
    return label, report.deleted, report.batches, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="old in-app messages, and as many SMS copies")
    p.add_argument("--explain", action="store_true", help="print the plan of one batch's DELETE first")
    args = p.parse_args()
    if not 1_000 <= args.rows <= 5_000_000:
        p.error("--rows must be within 1,000 … 5,000,000")

    cleanup = Cleanup()
    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-outbox-"))
    cleanup.push(f"remove {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    try:
        print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{args.rows:,} old in-app messages and as many SMS copies")
        name, url = create_database(cleanup, prefix="gridgov_bench_outbox")
        env = gridgov_env(url, tmp / "var")
        print(f"PostgreSQL ({name}): gridgov migrate {run_step([*gridgov_command(), 'migrate'], env, 'migrate'):.1f} s",
              flush=True)
        from gridgov.core.config import Settings
        from gridgov.core.db import make_engine, make_sessionmaker
        from gridgov.notify.jobs import PRUNE_BATCH, PRUNE_SECONDS

        engine = make_engine(url)
        cleanup.push("dispose the engine", engine.dispose)
        sessions = make_sessionmaker(engine)
        t = datetime.now(UTC).replace(microsecond=0)
        load(url.replace("postgresql+psycopg://", "postgresql://"), recipient(sessions), args.rows, t)
        settings = Settings(database_url=url, var_dir=tmp / "var", outbox_keep_days=KEEP_DAYS)
        if args.explain:
            explain(sessions, t)
        print(f"pruning (batches of {PRUNE_BATCH:,}; the job stops a run after {PRUNE_SECONDS:g} s, "
              f"not here) …", flush=True)
        results = [run(sessions, settings, t, "(a)  the old in-app messages and SMS copies"),
                   run(sessions, settings, t, "(b)  again, nothing to delete")]
        with engine.connect() as conn:
            left = conn.exec_driver_sql("SELECT count(*) FROM inbox WHERE outbox_id IS NULL").scalar()
        print(f"  in-app notices kept with outbox_id NULL: {left:,}")
        print(f"\nPostgreSQL, {args.rows:,} old in-app messages + {args.rows:,} old SMS copies, keep {KEEP_DAYS} days")
        print(f"{'run':<48}{'deleted':>12}{'batches':>9}{'seconds':>10}{'rows/s':>12}")
        for label, deleted, batches, seconds in results:
            rate = f"{deleted / seconds:,.0f}" if deleted else "—"
            print(f"{label:<48}{deleted:>12,}{batches:>9}{seconds:>10.2f}{rate:>12}")
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # main's `finally` has already cleaned up
        sys.exit("interrupted; the database this run made is gone")
