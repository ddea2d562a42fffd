"""Caravan's pure domain core: data, rules and algorithms.

Nothing in this package does I/O, reads a clock, the environment or the global random source, or
imports Django, asyncio or sockets (``tests/unit/test_layering.py`` enforces it). Time and
randomness are handed in by the callers in ``agents`` and ``webui``.
"""
