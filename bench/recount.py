"""Recount benchmark: `gridgov.cases.recount` (running clocks counted again after a calendar change)
over 1,000,000 open cases on PostgreSQL.

Scale and what is measured
--------------------------
The same data as bench/sweep.py: a fresh database `gridgov_bench_recount_<random>` with the demo
district and `--cases` (default 1,000,000) open cases written with COPY, 98% of them with a running
clock in 工作时 (work_hours), 2% paused (挂账). bench/sweep.py sets those clocks from calendar time,
not from the working calendar, so to the recount nearly every running clock is wrong: the first run
is the worst case there can be, every running clock moved. Then `recount_clocks` (the product's job,
batches of 5,000, each committed, a run stopping after 10 s of work so the other jobs sharing its
thread get their turn; the next run goes on from there) is timed, all its runs together:

  (a) first run: every running clock counted again, nearly all moved (UPDATE, timeline event,
      notifications for those whose deadline came closer);
  (b) second run: the calendar has not changed since (the steady state of every minute);
  (c) after an admin adds one more holiday to the current year, on a weekday a few days ahead
      (a correction): the clocks that run through that day move, the others are only counted;
  (d) again, nothing changed.

Printed: seconds in all, the job runs it took (one every 10 s in production), clocks counted, clocks
moved.

Usage::

    .venv/bin/python bench/recount.py                  # 1,000,000 cases
    .venv/bin/python bench/recount.py --cases 100000

The database is dropped at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # bench/calendar.py: see sweep.py
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from bench.intake import Cleanup, create_database, gridgov_command, gridgov_env, run_step  # noqa: E402
from bench.sweep import case_rows, load_postgresql, read_reference  # noqa: E402


def next_weekday(after: date, days: int) -> date:
    day = after + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def add_holiday(sessions, day: date) -> None:
    """One more 放假 day in its year, the year's other days kept, as an admin would enter it."""
    from sqlalchemy import select

    from gridgov.workcal.models import CalendarDay
    from gridgov.workcal.service import set_year

    with sessions() as db:
        rows = db.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
                          .where(CalendarDay.day >= date(day.year, 1, 1), CalendarDay.day <= date(day.year, 12, 31)))
        holidays, workdays = [(day, "基准测试加放")], []
        for d, kind, name in rows:
            (holidays if kind == "holiday" else workdays).append((d, name))
        set_year(db, day.year, holidays, workdays, actor="bench")
        db.commit()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="open cases to generate (default 1,000,000)")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()
    if not 1_000 <= args.cases <= 5_000_000:
        p.error("--cases must be within 1,000 … 5,000,000")
    n = args.cases
    cleanup = Cleanup()
    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-recount-"))
    cleanup.push(f"remove {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    try:
        print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{n:,} open cases")
        name, url = create_database(cleanup, prefix="gridgov_bench_recount")
        env = gridgov_env(url, tmp / "var")
        t_setup = run_step([*gridgov_command(), "migrate"], env, "gridgov migrate")
        t_setup += run_step([*gridgov_command(), "demo"], env, "gridgov demo")
        print(f"PostgreSQL ({name}): migrate + demo {t_setup:.1f} s; generating {n:,} cases …", flush=True)

        from gridgov.cases.recount import recount_clocks
        from gridgov.core.config import Settings
        from gridgov.core.db import make_engine, make_sessionmaker

        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        ref = read_reference(sessions)
        t0 = datetime.now(UTC).replace(microsecond=0)
        loaded = load_postgresql(url, case_rows(n, ref, t0, args.seed), n)
        print(f"loaded {n:,} cases in {loaded:.1f} s", flush=True)
        settings = Settings(database_url=url, var_dir=tmp / "var")
        holiday = next_weekday(t0.astimezone(ZoneInfo(settings.timezone)).date(), 3)
        results = []
        for label, before in [("(a) first run, every clock wrong", None), ("(b) nothing changed", None),
                              (f"(c) one more holiday, {holiday}", lambda: add_holiday(sessions, holiday)),
                              ("(d) nothing changed", None)]:
            if before:
                before()
            # Job runs, one after another, until one finds nothing left (each stops at its time budget).
            started, runs, checked, moved = time.perf_counter(), 0, 0, 0
            while True:
                report = recount_clocks(sessions, settings, now=t0)
                if report.skipped:
                    break
                runs, checked, moved = runs + 1, checked + report.checked, moved + len(report.moved)
            seconds = time.perf_counter() - started
            results.append((label, seconds, runs, checked, moved))
            print(f"  {label}: {seconds:.3f} s", flush=True)
        engine.dispose()
        print(f"\nPostgreSQL, {n:,} open cases — recount after a calendar change")
        print(f"{'change':<40}{'seconds':>10}{'job runs':>10}{'counted':>12}{'moved':>12}")
        for label, seconds, runs, checked, moved in results:
            print(f"{label:<40}{seconds:>10.3f}{runs:>10}{checked:>12,}{moved:>12,}")
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the database and folders this run made are gone")
