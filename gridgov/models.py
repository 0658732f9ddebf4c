"""Every table, imported in one place so migrations and tests see the whole schema."""

from gridgov.accounts.models import AuthToken, User
from gridgov.cases.models import Case, CaseAttachment, CaseEvent, IdempotencyKey
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.db import Base
from gridgov.departments.models import AreaAssignment, Department
from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.open311.models import Open311Client
from gridgov.regions.models import MetaValue, Region
from gridgov.workcal.models import CalendarDay, CalendarYear

__all__ = ["AreaAssignment", "AuthToken", "Base", "CalendarDay", "CalendarYear", "Case", "CaseAttachment",
           "CaseEvent", "CatalogItem", "Category", "Department", "IdempotencyKey", "InboxItem", "MetaValue",
           "Open311Client", "OutboxMessage", "Region", "User"]
