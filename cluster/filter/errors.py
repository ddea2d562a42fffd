"""The one error of the filter package: bad input, with the column where it went wrong."""

from __future__ import annotations

from cluster.errors import InvalidInput

__all__ = ["FilterError"]


class FilterError(InvalidInput):
    """A filter expression that cannot be parsed or applied (an HTTP 400 at the edge).

    ``column`` is 1-based in the expression text; 0 when the problem is not at one place (a selector
    that names no field of the objects filtered)."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.column = column
        where = f" at column {column}" if column else ""
        super().__init__(f"failed to parse filter{where}: {message}" if column else f"filter: {message}")
        self.message = message
