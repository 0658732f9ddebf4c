"""Every table, imported in one place so migrations and tests see the whole schema."""

from gridgov.accounts.models import AuthToken, User
from gridgov.cases.models import Case, CaseAttachment, CaseEvent
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.audit import AuditEntry
from gridgov.core.db import Base
from gridgov.departments.models import AreaAssignment, Department
from gridgov.missing.models import MissingAlert, MissingAlertEvent, MissingProne
from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.open311.models import Open311Client
from gridgov.people.models import (  # noqa: I001
                                   Building,
                                   House,
                                   ImportRun,
                                   Residence,
                                   Resident,
                                   ResidentConflict,
                                   ResidentTag,
                                   TagEvent,
                                   TagKind,
)
from gridgov.regions.models import MetaValue, Region
from gridgov.visits.models import ServiceRecord, Visit, VisitPhoto
from gridgov.workcal.models import CalendarDay, CalendarYear

__all__ = [
    "AreaAssignment",
    "AuditEntry",
    "AuthToken",
    "Base",
    "Building",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseAttachment",
    "CaseEvent",
    "CatalogItem",
    "Category",
    "Department",
    "House",
    "ImportRun",
    "InboxItem",
    "MetaValue",
    "MissingAlert",
    "MissingAlertEvent",
    "MissingProne",
    "Open311Client",
    "OutboxMessage",
    "Region",
    "Residence",
    "Resident",
    "ResidentConflict",
    "ResidentTag",
    "ServiceRecord",
    "TagEvent",
    "TagKind",
    "User",
    "Visit",
    "VisitPhoto",
]
