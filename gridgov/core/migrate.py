"""Alembic, driven from code so `gridgov migrate`, the app's start-up check and the tests
all use one configuration."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine, data_key: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    # For migrations that encrypt or decrypt personal data already in the database; without it
    # they take the key the settings resolve to.
    cfg.attributes["data_key"] = data_key
    return cfg


def migration_cipher():
    """For a migration that encrypts, decrypts or re-hashes personal data already stored: the
    cipher of the key `gridgov migrate` handed over, else of the key the app itself would use."""
    from alembic import context

    from gridgov.core.config import Settings
    from gridgov.core.crypto import cipher_for

    return cipher_for(context.config.attributes.get("data_key") or Settings().resolved_data_key)


def upgrade(engine: Engine, revision: str = "head", data_key: str | None = None) -> None:
    command.upgrade(alembic_config(engine, data_key), revision)


def downgrade(engine: Engine, revision: str, data_key: str | None = None) -> None:
    command.downgrade(alembic_config(engine, data_key), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)
