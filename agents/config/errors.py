"""The one error configuration loading raises."""

from __future__ import annotations

from cluster.errors import Diagnostic, InvalidInput

__all__ = ["ConfigError"]


class ConfigError(InvalidInput):
    """The agent configuration (files and flags) is wrong. ``diagnostics`` lists every problem found,
    each with its file, line and field, or its flag; the agent must not start."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        assert diagnostics, "a ConfigError needs at least one diagnostic"
        self.diagnostics = sorted(
            diagnostics, key=lambda d: (d.filename, d.line, d.column, d.path, d.message)
        )
        super().__init__("\n".join(str(d) for d in self.diagnostics))
