"""Suite-wide test settings.

Hypothesis: no per-example deadline (timing on a loaded 2-core machine is not what these tests
check) and, in CI, a derandomized run, so that a landing is judged on the same examples every time;
a developer's local runs keep exploring new examples (and the database remembers failures).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
