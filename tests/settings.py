"""Django settings for the test suite: the real settings, in dev mode, on a throw-away data dir.

pytest-django loads settings before any conftest runs, so the environment is set here, before
``webui.config`` reads it (once, at import).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CARAVAN_DEV", "1")
os.environ.setdefault("CARAVAN_DATA_DIR", tempfile.mkdtemp(prefix="caravan-test-"))

from webui.settings import *  # noqa: F403

# Staff users in admin tests: a fast hasher (the real one costs ~0.7 s per login on purpose).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Workflows run inside the request that starts them (no broker, no thread), so tests see their end state.
WORKFLOWS_INLINE = True
