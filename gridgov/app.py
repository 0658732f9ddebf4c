"""The web application: API, pages and operations endpoints in one process."""

from __future__ import annotations

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


def create_app(settings: Settings | None = None) -> FastAPI:
    from gridgov.accounts.views import router as accounts_api
    from gridgov.cases.pages import router as case_pages
    from gridgov.cases.views import router as cases_api
    from gridgov.catalog.views import router as catalog
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
    app = FastAPI(title="GridGov 网格化社会治理平台", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = make_engine(settings.resolved_database_url)
    app.state.sessions = make_sessionmaker(app.state.engine)
    app.state.locator = GridLocator()
    app.state.borders = StreetBorders()
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_request_middleware(app)
    routers = (ops, accounts_api, regions_api, departments_api, cases_api, case_pages, catalog, notify, open311_api,
               calendar_api, people_excel_api, people_import_pages,
               people_api, people_pages, visits_api, visit_pages, missing_api,
               missing_pages, pages)  # pages last: their catch-alls must not shadow the API
    for router in routers:
        app.include_router(router)
    install_in_process(app)  # background jobs inside the server, when settings.worker_in_process
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
