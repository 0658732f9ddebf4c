"""Every table, imported in one place so migrations and tests see the whole schema."""

from gridgov.accounts.models import AuthToken, User
from gridgov.core.db import Base
from gridgov.departments.models import AreaAssignment, Department
from gridgov.regions.models import MetaValue, Region

__all__ = ["AreaAssignment", "AuthToken", "Base", "Department", "MetaValue", "Region", "User"]
