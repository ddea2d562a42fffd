"""Line and column of every member and element of a JSON document.

JSON decoders give values without positions, yet an error in a JSON policy should name its line
just as an HCL one does. This scanner walks text that a real decoder has already accepted and
records where each object member (its key) and each array element starts, by path:
``("namespace", "prod", "capabilities", 1)``.
"""

from __future__ import annotations

import json

from cluster.jobspec.hcl.pos import Pos, SourceMap

__all__ = ["MAX_JSON_DEPTH", "JSONPath", "JSONTooDeep", "json_positions"]

JSONPath = tuple[str | int, ...]

# Real policies nest five levels deep (namespace, name, variables, path, name); this bounds the
# recursion for hostile input.
MAX_JSON_DEPTH = 32

_WHITESPACE = " \t\r\n"
_VALUE_END = ",]}" + _WHITESPACE


class JSONTooDeep(ValueError):
    """The document nests deeper than ``MAX_JSON_DEPTH``; ``pos`` is where it went too deep."""

    def __init__(self, pos: Pos) -> None:
        super().__init__(f"nested too deeply: more than {MAX_JSON_DEPTH} levels")
        self.pos = pos


class _Scanner:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.smap = SourceMap(text, filename)
        self.found: dict[JSONPath, Pos] = {}

    def skip(self, i: int) -> int:
        text = self.text
        while i < len(text) and text[i] in _WHITESPACE:
            i += 1
        return i

    def string_end(self, i: int) -> int:
        assert self.text[i] == '"', i
        j = i + 1
        while self.text[j] != '"':
            j += 2 if self.text[j] == "\\" else 1
        return j + 1

    def value(self, i: int, path: JSONPath) -> int:
        """Scans the value at ``i`` (after whitespace); returns the index just after it."""
        if len(path) > MAX_JSON_DEPTH:
            raise JSONTooDeep(self.smap.pos(i))
        char = self.text[i]
        if char == "{":
            return self.members(i + 1, path)
        if char == "[":
            return self.elements(i + 1, path)
        if char == '"':
            return self.string_end(i)
        while i < len(self.text) and self.text[i] not in _VALUE_END:
            i += 1
        return i

    def members(self, i: int, path: JSONPath) -> int:
        i = self.skip(i)
        while self.text[i] != "}":
            end = self.string_end(i)
            key: str = json.loads(self.text[i:end])
            self.found[(*path, key)] = self.smap.pos(i)
            colon = self.skip(end)
            i = self.skip(self.value(self.skip(colon + 1), (*path, key)))
            if self.text[i] == ",":
                i = self.skip(i + 1)
        return i + 1

    def elements(self, i: int, path: JSONPath) -> int:
        i = self.skip(i)
        index = 0
        while self.text[i] != "]":
            self.found[(*path, index)] = self.smap.pos(i)
            i = self.skip(self.value(i, (*path, index)))
            if self.text[i] == ",":
                i = self.skip(i + 1)
            index += 1
        return i + 1


def json_positions(text: str, filename: str = "") -> dict[JSONPath, Pos]:
    """Positions by path in ``text``, which must be valid JSON (decode it first).

    The root is at ``()``. Raises :class:`JSONTooDeep` beyond ``MAX_JSON_DEPTH`` levels.
    """
    scanner = _Scanner(text, filename)
    start = scanner.skip(0)
    scanner.found[()] = scanner.smap.pos(start)
    scanner.value(start, ())
    return scanner.found
