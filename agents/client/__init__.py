"""The client agent: fingerprints the machine, runs allocations through task drivers (``drivers/``)."""
