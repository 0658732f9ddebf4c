"""Personal data at rest: AES-GCM for the value, a keyed hash beside it for exact lookup.

Both keys are derived from the one data key in the settings (`GRIDGOV_DATA_KEY`, or var/data.key),
so a stolen database without the key yields neither the values nor a dictionary attack on the
hashes: an ID number has few enough possibilities that a plain SHA-256 could be brute-forced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
VERSION = b"\x01"  # a key rotation later writes \x02 and still reads \x01


class DataCipher:
    def __init__(self, data_key_b64: str) -> None:
        master = base64.b64decode(data_key_b64)
        if len(master) != 32:
            raise ValueError("GRIDGOV_DATA_KEY must be base64 of 32 bytes")
        self._aead = AESGCM(_derive(master, b"gridgov:aes-gcm"))
        self._hash_key = _derive(master, b"gridgov:lookup-hash")
        self._audit_key = _derive(master, b"gridgov:audit-chain")

    def encrypt(self, value: str, context: str) -> bytes:
        """`context` (e.g. "resident.id_number") is bound as associated data, so a ciphertext
        copied into another column does not decrypt there."""
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, value.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        if not blob or blob[:1] != VERSION:
            raise ValueError("unknown ciphertext version")
        nonce, body = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, context.encode()).decode()

    def lookup_hash(self, value: str, context: str) -> str:
        return hmac.new(self._hash_key, f"{context}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def audit_mac(self, message: bytes) -> str:
        return hmac.new(self._audit_key, message, hashlib.sha256).hexdigest()


def _derive(master: bytes, label: bytes) -> bytes:
    return hmac.new(master, label, hashlib.sha256).digest()


@lru_cache(maxsize=4)
def cipher_for(data_key_b64: str) -> DataCipher:
    return DataCipher(data_key_b64)


def data_cipher(settings) -> DataCipher:
    return cipher_for(settings.resolved_data_key)
