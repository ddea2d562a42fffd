"""Source positions and the one exception this package raises.

Every token and syntax node carries a :class:`Pos` so that a job-file error can name the exact
line and column, which is what an operator needs to fix a file they cannot see in our logs.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from cluster.errors import Diagnostic, InvalidInput

__all__ = ["HCLError", "Pos", "SourceMap"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A point in a source file.

    ``line`` and ``column`` are 1-based and count characters (not bytes); ``offset`` is the
    0-based character index into the source string. ``end`` positions are exclusive: the
    first character after the node.
    """

    filename: str
    line: int
    column: int
    offset: int


class SourceMap:
    """Turns character offsets into :class:`Pos` values with a binary search over line starts."""

    __slots__ = ("_cache", "_line_starts", "filename", "source")

    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename
        starts = [0]
        find = source.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts
        self._cache: dict[int, Pos] = {}

    def pos(self, offset: int) -> Pos:
        """The position of ``offset`` (memoised: a node's end is often the next node's start)."""
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        assert 0 <= offset <= len(self.source), offset
        line_index = bisect_right(self._line_starts, offset) - 1
        column = offset - self._line_starts[line_index] + 1
        pos = self._cache[offset] = Pos(self.filename, line_index + 1, column, offset)
        return pos


class HCLError(InvalidInput):
    """A syntax or evaluation error in HCL input.

    ``diagnostics`` lists every problem found (syntax errors are collected; evaluation stops at
    the first). Each has message, filename, line and column filled and ``path`` left empty: the
    job-file decoder knows the field path, this package does not.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        assert diagnostics, "an HCLError needs at least one diagnostic"
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def at(cls, pos: Pos, message: str) -> HCLError:
        """One error at ``pos``."""
        return cls([diagnostic(pos, message)])


def diagnostic(pos: Pos, message: str) -> Diagnostic:
    """A :class:`Diagnostic` at ``pos`` with no field path."""
    return Diagnostic(message=message, filename=pos.filename, line=pos.line, column=pos.column)
