"""Background jobs: a small periodic runner, a registry, `gridgov worker`, and the in-process runner.

A job is a function `fn(sessions, settings)` run every `interval_seconds`; it owns its
transactions. Jobs are registered with `register(Job(...))` in a `jobs.py` module of their
domain package (`gridgov/notify/jobs.py`); `registered_jobs()` imports every `gridgov.<pkg>.jobs`
it finds, so a new domain's jobs need no wiring. The same jobs run either in `gridgov worker`
or, the embedded default (`settings.worker_in_process`), in a daemon thread of `gridgov serve`.
Running both, or several servers, is safe: every job must tolerate concurrent runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import typer
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.config import Settings

log = logging.getLogger("gridgov.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    fn: Callable[[sessionmaker[Session], Settings], object]


@dataclass
class JobResult:
    job: str
    ok: bool
    result: object = None
    error: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0


class JobRunner:
    """Runs each job when it is due. A failing job is logged and tried again at its next turn;
    it never stops the loop or the other jobs."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, jobs: Iterable[Job],
                 on_result: Callable[[JobResult], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, log_results: bool = True) -> None:
        self.sessions = sessions
        self.log_results = log_results
        self.settings = settings
        self.jobs = list(jobs)
        self.on_result = on_result
        self.clock = clock
        self._due = {job.name: float("-inf") for job in self.jobs}  # every job is due at the start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[JobResult]:
        """Runs every job that is due now; returns what each did."""
        results = []
        for job in self.jobs:
            now = self.clock()
            if now < self._due[job.name]:
                continue
            self._due[job.name] = now + job.interval_seconds
            results.append(self._run(job))
        return results

    def _run(self, job: Job) -> JobResult:
        started = time.perf_counter()
        try:
            value = job.fn(self.sessions, self.settings)
        except Exception as exc:
            outcome = JobResult(job.name, ok=False, error=f"{type(exc).__name__}: {exc}",
                                seconds=time.perf_counter() - started)
            log.exception("job %s failed", job.name, extra={"fields": {
                "job": job.name, "error": outcome.error, "ms": round(outcome.seconds * 1000, 2)}})
        else:
            outcome = JobResult(job.name, ok=True, result=value, seconds=time.perf_counter() - started)
            if value and self.log_results:
                log.info("job %s: %s", job.name, value, extra={"fields": {
                    "job": job.name, "result": str(value), "ms": round(outcome.seconds * 1000, 2)}})
        if self.on_result is not None:
            try:
                self.on_result(outcome)
            except Exception:
                log.exception("reporting the result of job %s failed", job.name)
        return outcome

    def seconds_until_due(self) -> float:
        if not self.jobs:
            return 60.0
        return max(0.0, min(self._due.values()) - self.clock())

    def run_forever(self, stop_event: threading.Event | None = None) -> None:
        """Runs jobs as they fall due until `stop_event` is set (it interrupts the wait at once)."""
        stop = stop_event or self._stop
        while not stop.is_set():
            self.run_once()
            stop.wait(self.seconds_until_due())

    def start_in_thread(self) -> threading.Thread:
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, args=(self._stop,), name="gridgov-jobs",
                                        daemon=True)
        self._thread.start()
        log.info("in-process job runner started", extra={"fields": {"jobs": [j.name for j in self.jobs]}})
        return self._thread

    def stop(self, timeout: float = 30.0) -> bool:
        """Asks the thread to stop after the job it is running, and waits for it; True when it has."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


# --- the registry ---

_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
    """Adds a job (a job of the same name is replaced, so re-importing a module is harmless)."""
    if job.interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    _REGISTRY[job.name] = job
    return job


def discover() -> None:
    """Imports every `gridgov.<package>.jobs` module, which registers its jobs."""
    import gridgov

    for info in pkgutil.iter_modules(gridgov.__path__):
        if info.ispkg and importlib.util.find_spec(f"gridgov.{info.name}.jobs") is not None:
            importlib.import_module(f"gridgov.{info.name}.jobs")


def registered_jobs() -> list[Job]:
    discover()
    return sorted(_REGISTRY.values(), key=lambda j: j.name)


# --- in-process: `gridgov serve` ---

def install_in_process(app, jobs: Iterable[Job] | None = None) -> None:
    """Runs the jobs (default: the registered ones) in a daemon thread from the app's start-up to
    its shutdown, when `app.state.settings.worker_in_process` is true at start-up; tests turn it
    off in their settings. Wraps the router's lifespan, so it works with or without a custom one.
    Calling it again only changes the jobs; the runner is available as `app.state.job_runner`."""
    app.state.in_process_jobs = list(jobs) if jobs is not None else None
    if getattr(app.state, "in_process_installed", False):
        return
    app.state.in_process_installed = True
    app.state.job_runner = None
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app):
        async with original(asgi_app) as state:
            runner = None
            settings: Settings = app.state.settings
            if settings.worker_in_process:
                chosen = app.state.in_process_jobs
                runner = JobRunner(app.state.sessions, settings, chosen if chosen is not None else registered_jobs())
                runner.start_in_thread()
            app.state.job_runner = runner
            try:
                yield state
            finally:
                if runner is not None:
                    import anyio.to_thread

                    if not await anyio.to_thread.run_sync(runner.stop):
                        log.warning("the in-process job runner did not stop in time")
                app.state.job_runner = None

    app.router.lifespan_context = lifespan


# --- `gridgov worker` ---

def worker_command(
        once: bool = typer.Option(False, "--once", help="每个任务只运行一次后退出 / Run each job once and exit."),
        verbose: bool = typer.Option(False, "--verbose", "-v",
                                     help="也显示无事可做的运行 / Also print runs that had nothing to do."),
        only: list[str] = typer.Option([], "--job", "-j", metavar="NAME",
                                       help="只运行这些任务（可重复），如 notify.prune_outbox；结果总会显示 / Run only "
                                            "these jobs (repeatable), e.g. notify.prune_outbox; results always shown."),
) -> None:
    """运行后台任务（通知投递等），按 Ctrl-C 停止 / Run background jobs until Ctrl-C."""
    import signal

    from rich.console import Console
    from rich.markup import escape

    from gridgov.core import migrate
    from gridgov.core.db import make_engine, make_sessionmaker
    from gridgov.core.logs import configure_logging

    console = Console()
    jobs = registered_jobs()
    if only:
        unknown = sorted(set(only) - {j.name for j in jobs})
        if unknown:
            Console(stderr=True).print(f"[red]没有这个任务 (no such job):[/red] {escape(', '.join(unknown))}; "
                                       f"可用 (known): {', '.join(j.name for j in jobs)}", highlight=False)
            raise typer.Exit(2)
        jobs = [j for j in jobs if j.name in only]
        verbose = True  # asked for by name: say what it did, even nothing
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings.resolved_database_url)
    if not migrate.is_current(engine):
        Console(stderr=True).print("[red]数据库尚未迁移或版本落后。[/red] 请先运行：[bold]gridgov migrate[/bold]  "
                                   "(The database is not migrated: run `gridgov migrate` first.)")
        raise typer.Exit(2)

    def show(outcome: JobResult) -> None:
        if outcome.ok and not outcome.result and not verbose:
            return
        stamp = outcome.started_at.astimezone().strftime("%H:%M:%S")
        if outcome.ok:
            summary = escape(str(outcome.result) if outcome.result is not None else "done")
            console.print(f"[dim]{stamp}[/dim] [bold]{escape(outcome.job)}[/bold] [green]ok[/green] "
                          f"{summary} [dim]({outcome.seconds:.2f} s)[/dim]", highlight=False)
        else:
            console.print(f"[dim]{stamp}[/dim] [bold]{escape(outcome.job)}[/bold] [red]失败 failed[/red] "
                          f"{escape(outcome.error)}", highlight=False)

    # Results are printed above; failures are also logged (as JSON, for the log collector).
    runner = JobRunner(make_sessionmaker(engine), settings, jobs, on_result=show, log_results=False)
    try:
        if once:
            results = runner.run_once()
            if not all(r.ok for r in results):
                raise typer.Exit(1)
            return
        console.print("后台任务已启动 (worker started): " + ", ".join(f"{j.name} /{j.interval_seconds:g}s"
                                                                     for j in jobs) + " — Ctrl-C 停止")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            runner.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
        console.print("后台任务已停止 (worker stopped)")
    finally:
        engine.dispose()
