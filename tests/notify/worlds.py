"""A small database of its own for delivery tests: the worker drains the whole outbox, so these
tests must not share the demo database with the rest of the session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

import gridgov.models  # noqa: F401  (every table, so relationships resolve)
from gridgov.accounts.models import User
from gridgov.core.config import Settings
from gridgov.notify.models import ChannelHealth, InboxItem, OutboxMessage
from gridgov.regions.models import Region


@dataclass
class World:
    url: str
    sessions: sessionmaker[Session]
    settings: Settings
    alice: int
    bob: int
    carol: int

    def with_webhook(self, url: str = "http://gateway.test/hook") -> Settings:
        return self.settings.model_copy(update={"webhook_url": url})

    def reset(self) -> None:
        """Empties the outbox and the inbox, forgets how the gateway did, and undoes what tests did
        to the users."""
        with self.sessions() as db:
            db.execute(delete(InboxItem))
            db.execute(delete(OutboxMessage))
            db.execute(delete(ChannelHealth))
            db.execute(update(User).values(display_name=User.username, mobile_cipher=None, mobile_masked=""))
            db.commit()


def seed_users(sessions: sessionmaker[Session]) -> list[int]:
    """A district and three users in an empty, migrated database; returns their ids."""
    with sessions() as db:
        db.add(Region(code="430203", name="芦淞区", level="district", kind="区", path="/430203/"))
        users = [User(username=name, display_name=name, password_hash="!", role="district_dispatcher",
                      region_code="430203") for name in ("alice", "bob", "carol")]
        db.add_all(users)
        db.commit()
        return [u.id for u in users]
