"""The web application: API, pages and operations endpoints in one process."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gridgov.cases.routing import StreetBorders
from gridgov.core.config import Settings
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.core.errors import install_error_handlers
from gridgov.core.jobs import install_in_process
from gridgov.core.logs import configure_logging
from gridgov.core.ops import Metrics, install_request_middleware
from gridgov.regions.service import GridLocator

STATIC = Path(__file__).parent / "web" / "static"
log = logging.getLogger("gridgov.app")


def create_app(settings: Settings | None = None) -> FastAPI:
    from gridgov.accounts.views import router as accounts_api
    from gridgov.cases.pages import router as case_pages
    from gridgov.cases.views import router as cases_api
    from gridgov.catalog.views import router as catalog
    from gridgov.core.audit_views import router as audit_api
    from gridgov.core.ops import router as ops
    from gridgov.departments.views import router as departments_api
    from gridgov.missing.pages import router as missing_pages
    from gridgov.missing.views import router as missing_api
    from gridgov.notify.views import router as notify
    from gridgov.open311.views import router as open311_api
    from gridgov.people.import_pages import router as people_import_pages
    from gridgov.people.import_views import router as people_excel_api
    from gridgov.people.pages import router as people_pages
    from gridgov.people.views import router as people_api
    from gridgov.regions.views import router as regions_api
    from gridgov.visits.pages import router as visit_pages
    from gridgov.visits.views import router as visits_api
    from gridgov.web.views import router as pages
    from gridgov.workcal.views import router as calendar_api

    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(title="GridGov 网格化社会治理平台", version="0.1.0", docs_url=None, redoc_url=None,
                  lifespan=_warm_up_at_start)
    app.state.settings = settings
    app.state.engine = make_engine(settings.resolved_database_url)
    app.state.sessions = make_sessionmaker(app.state.engine)
    app.state.locator = GridLocator()
    app.state.borders = StreetBorders()
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_request_middleware(app)
    # The case API first: a request is matched against the routers in order, and intake is the
    # busiest path. Pages last: their catch-alls must not shadow the API.
    routers = (cases_api, ops, accounts_api, regions_api, departments_api, case_pages, catalog, notify, open311_api,
               calendar_api, people_excel_api, people_import_pages,
               people_api, people_pages, visits_api, visit_pages, missing_api,
               missing_pages, audit_api, pages)
    for router in routers:
        app.include_router(router)
    install_in_process(app)  # background jobs inside the server, when settings.worker_in_process
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


@asynccontextmanager
async def _warm_up_at_start(app: FastAPI):
    if app.state.settings.warm_up:
        thread = threading.Thread(target=warm_up, args=(app,), name="gridgov-warm-up", daemon=True)
        app.state.warm_up = thread
        thread.start()  # in the background: the server answers (and /readyz tells) meanwhile
    yield


def warm_up(app: FastAPI) -> None:
    """What the first report would otherwise build while the grid worker waits: the word
    segmenter and the catalog's suggestion indexes, the grid layer's index, the street borders.
    A database that is not ready (not migrated yet) leaves them to the first report."""
    from gridgov.catalog.suggest import warm_up as warm_suggestions

    app.state.warmed_in = None
    started = time.monotonic()
    try:
        with app.state.sessions() as db:
            warm_suggestions(db)
            app.state.locator.index(db)
            app.state.borders.distance_m(db, 0.0, 0.0)
    except Exception as exc:  # noqa: BLE001 - start-up goes on; the first report builds what is missing
        log.warning("warm-up stopped: %s: %s", type(exc).__name__, exc)
        return
    app.state.warmed_in = time.monotonic() - started
    log.info("warm-up done in %.1f s", app.state.warmed_in)
