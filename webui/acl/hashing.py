"""Token secrets: made from the OS's secure random source, stored only as a keyed hash.

The hash is HMAC-SHA256 keyed by a key derived from Django's ``SECRET_KEY``: a lookup by hash
is one indexed query, and a copy of the database alone does not let anyone test guesses against
it (nor reverse it: a SecretID carries 122 random bits). Rotating ``SECRET_KEY`` keeps tokens
working while the old key is listed in ``SECRET_KEY_FALLBACKS``; a token found under an old key
is re-hashed under the new one (``webui.acl.auth``).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac

__all__ = ["MAX_SECRET_CHARS", "candidate_hashes", "hash_secret", "new_secret"]

_SALT = "caravan.acl.token-secret"
# A SecretID is a 36-character UUID; anything much longer is not one of ours.
MAX_SECRET_CHARS = 128


def new_secret() -> str:
    """A new SecretID: a random (version 4) UUID, the form Nomad's clients expect."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def hash_secret(secret: str, key: str | None = None) -> str:
    """The stored form of ``secret`` (64 hex characters), under ``key`` or ``SECRET_KEY``."""
    return salted_hmac(_SALT, secret, secret=key, algorithm="sha256").hexdigest()


def candidate_hashes(secret: str) -> list[str]:
    """The hash under the current key first, then under each fallback key."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hash_secret(secret, key) for key in keys]
