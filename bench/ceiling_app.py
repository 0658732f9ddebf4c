"""The ceiling for bench/intake.py: the least a case-intake request could cost on this stack.

A minimal FastAPI app, kept here and not in the product, with one endpoint that does nothing but
validate the JSON body a case create sends and insert it as one row into a table of its own
(`bench_ceiling`) in the same PostgreSQL database, through the product's own engine settings
(`gridgov.core.db.make_engine`: same driver, same pool). It is served by the same uvicorn, with the
same worker count, as `gridgov serve`, and recycles keep-alive connections as GridGov does.
Whatever GridGov's intake does beyond this (log-in check, locating, suggesting, routing, the
calendar, case events, the outbox, logging, metrics) is the difference `bench/intake.py` reports.

Endpoints: `POST /bench/cases` (201, `{"id": …}`) and `GET /readyz`.

Usage (bench/intake.py starts it itself; by hand)::

    BENCH_CEILING_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/DB \\
        .venv/bin/python bench/ceiling_app.py --port 8100 --workers 2

which runs, from the repository root, the equivalent of::

    python -m uvicorn bench.ceiling_app:create_app --factory --host 127.0.0.1 --port 8100 --workers 2

(The app is imported as `bench.ceiling_app`, from the repository root: `bench/` itself must not be
on `sys.path`, because `bench/calendar.py` would hide the standard library's `calendar`.)
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
# Run as a script, this file's folder is sys.path[0]: take it off (see the docstring), add the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402

from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from gridgov.core.db import make_engine  # noqa: E402

URL_ENV = "BENCH_CEILING_DATABASE_URL"
KEEPALIVE_ENV = "GRIDGOV_KEEPALIVE_REQUESTS"  # the setting GridGov reads, so one variable sets both
TABLE = "bench_ceiling"
CREATE_TABLE = text(f"CREATE TABLE IF NOT EXISTS {TABLE} (id serial PRIMARY KEY, body text NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now())")
INSERT = text(f"INSERT INTO {TABLE} (body) VALUES (:body) RETURNING id")


class CaseBody(BaseModel):
    """The same JSON a case create sends (the fields bench/intake.py uses), validated the same way."""

    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    item_code: str | None = Field(default=None, max_length=12)


class RecycleConnections:
    """Closes a keep-alive connection after about `every` requests, as GridGov's request middleware
    does (`Settings.keepalive_requests`, same default): with several workers a connection stays with
    the worker that accepted it, and without this the ceiling could run with every client on one
    worker while GridGov's are spread again. Same serving conditions on both sides."""

    def __init__(self, app, every: int) -> None:
        self.app = app
        self.chance = 1 / every if every > 0 else 0.0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.chance or random.random() >= self.chance:
            await self.app(scope, receive, send)
            return

        async def closing(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def ensure_table(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several uvicorn workers start at once; CREATE TABLE IF NOT EXISTS can still race.
            conn.execute(text("SELECT pg_advisory_xact_lock(20260430)"))
        conn.execute(CREATE_TABLE)


def create_app(database_url: str | None = None) -> FastAPI:
    url = database_url or os.environ.get(URL_ENV, "")
    if not url:
        raise RuntimeError(f"set {URL_ENV} to the database to insert into")
    engine = make_engine(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        ensure_table(engine)
        yield
        engine.dispose()

    app = FastAPI(title="bench ceiling", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RecycleConnections, every=int(os.environ.get(KEEPALIVE_ENV, "100")))

    # A plain `def`, like GridGov's views: FastAPI runs it in the same thread pool.
    @app.post("/bench/cases", status_code=201)
    def create_case(body: CaseBody) -> dict:
        with engine.begin() as conn:
            new_id = conn.execute(INSERT, {"body": body.model_dump_json()}).scalar_one()
        return {"id": new_id}

    @app.get("/readyz")
    def readyz() -> dict:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


def patch_uvicorn_nodelay() -> None:
    """Serve the ceiling as `gridgov serve --workers` serves GridGov: with `workers > 1`, uvicorn (0.54) binds the
    listening socket itself with `proto` 0, accepted connections inherit it, and asyncio only turns
    on TCP_NODELAY for sockets that say IPPROTO_TCP — so every keep-alive response waits for the
    client's delayed ACK (~40 ms on Linux; Kludex/uvicorn#3149). This re-labels the bound socket as
    IPPROTO_TCP before uvicorn hands it to its workers (gridgov/cli.py binds its own socket so).
    `--workers 1` is not affected."""
    import socket

    from uvicorn.config import Config

    original = Config.bind_socket
    if getattr(original, "bench_nodelay", False):
        return

    def bind_socket(self: Config) -> socket.socket:
        sock = original(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    bind_socket.bench_nodelay = True  # type: ignore[attr-defined]
    Config.bind_socket = bind_socket  # type: ignore[method-assign]


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV, ""))
    args = parser.parse_args()
    if not args.database_url:
        parser.error(f"give --database-url or set {URL_ENV}")
    patch_uvicorn_nodelay()  # both sides alike: see its docstring
    os.environ[URL_ENV] = args.database_url  # the workers build their own app from it
    os.chdir(ROOT)
    uvicorn.run("bench.ceiling_app:create_app", factory=True, host="127.0.0.1", port=args.port,
                workers=args.workers, log_level="warning", app_dir=str(ROOT))


if __name__ == "__main__":
    main()
