"""Who a token belongs to, remembered by the process for a moment.

Every authenticated request used to ask the database (a join of tokens, users and regions) and,
being a blocking query, to take a trip through the thread pool for it: together a sixth of a case
intake. A process now keeps each answer for `Settings.auth_cache_seconds` (default 2 s; 0 asks
every time), never past the token's own expiry.

What that costs: a token revoked, or a user stopped or changed, by *another* process is honoured
by this one within those seconds. In this process it is honoured at once: every service that
revokes tokens or changes what a principal says calls `forget_principals`, which empties the
cache both then and when its transaction commits (so a request that read the old row in between
cannot keep it). Unknown or expired tokens are never remembered: each such request asks again.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import event
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal

_MAX_ENTRIES = 50_000  # live tokens a process remembers; past that it starts afresh
_clock = time.monotonic

_lock = threading.Lock()
_entries: dict[tuple, tuple[Principal, float, int]] = {}  # (database, digest, kind) → (who, until, generation)
_generation = 0


def cached_principal(database, digest: str, kind: str) -> Principal | None:
    entry = _entries.get((database, digest, kind))
    if entry is None:
        return None
    principal, until, generation = entry
    if generation != _generation or _clock() >= until:
        return None
    return principal


def current_generation() -> int:
    """Read before the database is asked: an answer read before a `forget_principals` must not
    be remembered after it."""
    return _generation


def remember_principal(database, digest: str, kind: str, principal: Principal, seconds: float,
                       expires_in: float, generation: int) -> None:
    keep = min(seconds, expires_in)
    if keep <= 0:
        return
    with _lock:
        if generation != _generation:
            return
        if len(_entries) >= _MAX_ENTRIES:
            _entries.clear()
        _entries[(database, digest, kind)] = (principal, _clock() + keep, generation)


def _forget_all(*_args) -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


def forget_principals(db: Session) -> None:
    """Called by a service that revokes tokens or changes a user: this process stops answering
    from memory now and again when `db` commits."""
    _forget_all()
    event.listen(db, "after_commit", _forget_all, once=True)
