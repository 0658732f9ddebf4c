"""Passwords, tokens and CSRF."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults
# Verified against when a username does not exist, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(secret: str, anchor: str) -> str:
    """The CSRF token is bound to the session (or, before log-in, to an anonymous cookie),
    so it needs no storage and cannot be replayed across sessions."""
    return hmac.new(secret.encode(), f"csrf:{anchor}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: str, anchor: str | None, given: str | None) -> bool:
    if not anchor or not given:
        return False
    return hmac.compare_digest(csrf_for(secret, anchor), given)
