from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from gridgov.notify.models import InboxItem


class InboxItemOut(BaseModel):
    id: int
    topic: str
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None
    read: bool

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemOut:
        return cls(id=item.id, topic=item.topic, title=item.title, body=item.body, link=item.link,
                   created_at=item.created_at, read_at=item.read_at, read=item.read_at is not None)


class InboxPage(BaseModel):
    items: list[InboxItemOut]
    total: int
    unread: int


class UnreadCount(BaseModel):
    unread: int


class ReadAll(BaseModel):
    updated: int
    unread: int
