"""The visits tests' resident helpers serve here too."""

from tests.visits.conftest import resident  # noqa: F401
