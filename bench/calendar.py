"""Benchmark gridgov.workcal.calendar.WorkCalendar: deadlines and elapsed fractions for a sweep.

Usage::

    .venv/bin/python bench/calendar.py                  # 1,000,000 (start, amount, unit) tuples
    .venv/bin/python bench/calendar.py --quick          # smoke run: 20,000 tuples
    .venv/bin/python bench/calendar.py --n 200000 --loop-n 50000

The calendar is built from the installed chinesecalendar package (the years it knows) with the
default office hours in Asia/Shanghai, as `gridgov calendar seed` would store it. Starts are
uniform over 2025-01-01 .. 2027-06-30 (so some deadlines run into 2027, a year without data, and
fall back to Monday–Friday), units are mixed evenly, and amounts are typical catalog limits.

It reports, for the same tuples:

* the vectorised batch API (`WorkCalendar.deadlines` / `elapsed_many` over int64 epoch minutes,
  numpy binary searches over the precomputed working-span table), including the conversion of
  datetime64 starts to epoch minutes and of deadlines back to datetime64;
* a plain Python loop of `WorkCalendar.deadline` / `elapsed` calls on aware datetimes
  (`--loop-n` of them, default all);

and checks that both give the same answers on every tuple the loop computed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `calendar`, which the standard library itself
# imports (email, http.cookiejar …): take its own folder off the path before anything else.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import numpy as np  # noqa: E402

from gridgov.workcal.calendar import UNIT_CODES, UNITS, WorkCalendar, from_minute, to_minute, to_minutes  # noqa: E402
from gridgov.workcal.service import package_schedule, package_years  # noqa: E402

AMOUNTS = {  # typical limits of the catalog, per unit
    "urgent_hours": [1, 2, 4, 24],
    "work_hours": [2, 4, 8, 16, 24],
    "work_days": [0.5, 1, 3, 5, 10, 15],
    "calendar_days": [1, 3, 7, 15, 30],
}


def build_calendar() -> tuple[WorkCalendar, float]:
    t0 = time.perf_counter()
    exceptions = {}
    for year in package_years():
        exceptions.update({d: kind for d, (kind, _) in package_schedule(year).items()})
    cal = WorkCalendar(exceptions, package_years())
    return cal, time.perf_counter() - t0


def make_cases(n: int, seed: int = 2026):
    rng = np.random.default_rng(seed)
    lo = np.datetime64("2024-12-31T16:00", "us")  # 2025-01-01 00:00 in Shanghai, as UTC
    hi = np.datetime64("2027-06-29T16:00", "us")
    span = (hi - lo).astype(np.int64)
    starts = lo + rng.integers(0, span, n).astype("timedelta64[us]")
    codes = rng.integers(0, len(UNITS), n)
    amounts = np.empty(n)
    for name, code in UNIT_CODES.items():
        mask = codes == code
        amounts[mask] = rng.choice(AMOUNTS[name], mask.sum())
    now = np.datetime64("2026-11-21T02:00", "us")
    return starts, codes, amounts, now


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="tuples (default 1,000,000)")
    parser.add_argument("--loop-n", type=int, default=None, help="tuples for the per-call loop (default: all)")
    parser.add_argument("--quick", action="store_true", help="20,000 tuples")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    loop_n = min(n, args.loop_n if args.loop_n is not None else n)
    logging.getLogger("gridgov.workcal").setLevel(logging.ERROR)  # the 2027 fallback warning, once, is expected

    print(f"python {platform.python_version()} · numpy {np.__version__} · {platform.machine()} · "
          f"{os.cpu_count()} CPUs")
    cal, build = build_calendar()
    years = package_years()
    print(f"calendar: chinesecalendar {years.start}–{years.stop - 1}, office hours 08:00-12:00,14:00-18:00, "
          f"Asia/Shanghai; built in {build * 1000:.1f} ms")
    starts64, codes, amounts, now64 = make_cases(n)
    names = np.array(list(UNITS))[codes]
    print(f"{n:,} tuples: starts 2025-01-01 .. 2027-06-30 (2027 has no data), units mixed evenly")
    print()

    # -- vectorised --
    cal.deadlines(to_minutes(starts64[:1000]), amounts[:1000], codes[:1000])  # warm-up (grows nothing)
    start_min, t_conv = timed(lambda: to_minutes(starts64))
    due_min, t_due = timed(lambda: cal.deadlines(start_min, amounts, codes))
    due64, t_back = timed(lambda: due_min.astype("datetime64[m]"))
    now_min = int(to_minutes(np.array([now64]))[0])
    fractions, t_frac = timed(lambda: cal.elapsed_many(start_min, np.full(n, now_min), codes) / amounts)
    lights, t_light = timed(lambda: np.select([fractions > 1, fractions >= 0.8], [2, 1], 0))
    total = t_conv + t_due + t_back + t_frac + t_light
    print("vectorised (WorkCalendar.deadlines / elapsed_many, numpy):")
    print(f"  datetime64 → epoch minutes   {t_conv * 1000:9.1f} ms")
    print(f"  deadlines                    {t_due * 1000:9.1f} ms")
    print(f"  epoch minutes → datetime64   {t_back * 1000:9.1f} ms")
    print(f"  elapsed fractions at 'now'   {t_frac * 1000:9.1f} ms")
    print(f"  green/yellow/red             {t_light * 1000:9.1f} ms")
    print(f"  total                        {total * 1000:9.1f} ms  ({total / n * 1e9:.0f} ns per case)")
    counts = np.bincount(lights, minlength=3)
    print(f"  lights at 2026-11-21 10:00: green {counts[0]:,}, yellow {counts[1]:,}, red {counts[2]:,}; "
          f"deadlines {str(due64.min())} .. {str(due64.max())}")
    print()

    # -- one call at a time --
    start_dt = [datetime.fromtimestamp(int(m) * 60, UTC) for m in start_min[:loop_n]]
    now_dt = from_minute(now_min)
    amount_list = amounts[:loop_n].tolist()
    name_list = names[:loop_n].tolist()

    def loop_deadlines():
        return [cal.deadline(s, a, u) for s, a, u in zip(start_dt, amount_list, name_list, strict=True)]

    def loop_fractions():
        return [cal.elapsed(s, now_dt, u) / a for s, a, u in zip(start_dt, amount_list, name_list, strict=True)]

    dues, t_loop_due = timed(loop_deadlines)
    fracs, t_loop_frac = timed(loop_fractions)
    scale = f" (×{n / loop_n:.1f} → {(t_loop_due + t_loop_frac) * n / loop_n:.2f} s for {n:,})" if loop_n < n else ""
    print(f"per call (WorkCalendar.deadline / elapsed on aware datetimes), {loop_n:,} tuples:")
    print(f"  deadlines                    {t_loop_due * 1000:9.1f} ms  ({t_loop_due / loop_n * 1e6:.2f} µs per call)")
    print(f"  elapsed fractions            {t_loop_frac * 1000:9.1f} ms  "
          f"({t_loop_frac / loop_n * 1e6:.2f} µs per call)")
    print(f"  total                        {(t_loop_due + t_loop_frac) * 1000:9.1f} ms{scale}")

    same_due = all(to_minute(d) == int(m) for d, m in zip(dues, due_min[:loop_n], strict=True))
    same_frac = np.allclose(np.array(fracs), fractions[:loop_n])
    print()
    print(f"check: per-call and vectorised agree on all {loop_n:,} — deadlines {same_due}, fractions {same_frac}")
    if not (same_due and same_frac):
        sys.exit(1)


if __name__ == "__main__":
    main()
