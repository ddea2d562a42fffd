"""String functions: chomp format formatlist indent join lower regex regexall replace split strrev
substr title trim trimprefix trimsuffix trimspace upper.

Regular expressions use Python's ``re`` as an approximation of HCL's RE2 syntax: the common
syntax (classes, groups, ``(?P<name>)``, ``(?i)``, anchors) behaves the same; RE2-only classes
such as ``\\pL`` are not supported and Python-only features such as backreferences are accepted.
Lengths and reversals count code points where HCL counts grapheme clusters.
"""

from __future__ import annotations

import re

from cluster.jobspec.hcl.functions.base import ANY, INT, LIST, STRING, Function, FunctionError, Param, define
from cluster.jobspec.hcl.functions.fmt import format_values
from cluster.jobspec.hcl.values import ConversionError, Value, to_string

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Function] = {}
_STR = Param("str", STRING)
_MAX_INDENT = 1000
_TRAILING_NEWLINES = re.compile(r"(?:\r\n?|\n)*\Z")
_GO_TEMPLATE_REF = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


@define(FUNCTIONS, "chomp", _STR)
def _chomp(text: str) -> str:
    return _TRAILING_NEWLINES.sub("", text, count=1)


@define(FUNCTIONS, "lower", _STR)
def _lower(text: str) -> str:
    return text.lower()


@define(FUNCTIONS, "upper", _STR)
def _upper(text: str) -> str:
    return text.upper()


@define(FUNCTIONS, "title", _STR)
def _title(text: str) -> str:
    """Go's strings.Title: upper-case each letter that follows a separator (not a letter,
    digit or underscore)."""
    out: list[str] = []
    previous_is_word = False
    for char in text:
        out.append(char if previous_is_word else char.upper())
        previous_is_word = char.isalnum() or char == "_"
    return "".join(out)


@define(FUNCTIONS, "strrev", _STR)
def _strrev(text: str) -> str:
    return text[::-1]


@define(FUNCTIONS, "trimspace", _STR)
def _trimspace(text: str) -> str:
    return text.strip()


@define(FUNCTIONS, "trim", _STR, Param("cutset", STRING))
def _trim(text: str, cutset: str) -> str:
    return text.strip(cutset) if cutset else text


@define(FUNCTIONS, "trimprefix", _STR, Param("prefix", STRING))
def _trimprefix(text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


@define(FUNCTIONS, "trimsuffix", _STR, Param("suffix", STRING))
def _trimsuffix(text: str, suffix: str) -> str:
    return text.removesuffix(suffix)


@define(FUNCTIONS, "indent", Param("spaces", INT), _STR)
def _indent(spaces: int, text: str) -> str:
    if not 0 <= spaces <= _MAX_INDENT:
        raise FunctionError(f"the number of spaces must be between 0 and {_MAX_INDENT}, got {spaces}", 0)
    return text.replace("\n", "\n" + " " * spaces)


@define(FUNCTIONS, "substr", _STR, Param("offset", INT), Param("length", INT))
def _substr(text: str, offset: int, length: int) -> str:
    """A negative offset counts from the end; a length of -1 means "to the end"."""
    if offset < 0:
        offset = max(0, len(text) + offset)
    if offset > len(text):
        return ""
    if length < 0:
        return text[offset:]
    return text[offset : offset + length]


@define(FUNCTIONS, "split", Param("separator", STRING), _STR)
def _split(separator: str, text: str) -> list[Value]:
    """Go's strings.Split: an empty separator splits into characters."""
    if separator == "":
        return list(text)
    return list(text.split(separator))


@define(FUNCTIONS, "join", Param("separator", STRING), Param("list", LIST), variadic=Param("lists", LIST))
def _join(separator: str, *lists: list[Value]) -> str:
    pieces: list[str] = []
    for list_index, items in enumerate(lists, start=1):
        for item in items:
            if item is None:
                raise FunctionError("cannot join a null element", list_index)
            try:
                pieces.append(to_string(item))
            except ConversionError as exc:
                raise FunctionError(f"every element must be a string: {exc.message}", list_index) from None
    return separator.join(pieces)


@define(FUNCTIONS, "format", Param("format", STRING), variadic=Param("args", ANY, allow_null=True))
def _format(template: str, *args: Value) -> str:
    return format_values(template, list(args))


@define(FUNCTIONS, "formatlist", Param("format", STRING), variadic=Param("args", ANY, allow_null=True))
def _formatlist(template: str, *args: Value) -> list[Value]:
    """format() per element: list arguments advance together, other arguments repeat."""
    length: int | None = None
    for index, arg in enumerate(args, start=1):
        if isinstance(arg, list):
            if length is not None and len(arg) != length:
                raise FunctionError(
                    f"all list arguments must have the same length ({length}), got {len(arg)}", index
                )
            length = len(arg)
    rows = 1 if length is None else length
    results: list[Value] = []
    for row in range(rows):
        values = [arg[row] if isinstance(arg, list) else arg for arg in args]
        results.append(format_values(template, values))
    return results


def _compile(pattern: str, arg_index: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FunctionError(f"invalid regular expression {pattern!r}: {exc}", arg_index) from None


def _match_value(compiled: re.Pattern[str], match: re.Match[str]) -> Value:
    """HCL's regex() result: the match, a list of captures, or an object of named captures."""
    if compiled.groupindex:
        return {name: match.group(name) for name in compiled.groupindex}
    if compiled.groups:
        return list(match.groups())
    return match.group()


@define(FUNCTIONS, "regex", Param("pattern", STRING), Param("string", STRING))
def _regex(pattern: str, text: str) -> Value:
    compiled = _compile(pattern, 0)
    match = compiled.search(text)
    if match is None:
        raise FunctionError("the pattern did not match any part of the string", 1)
    return _match_value(compiled, match)


@define(FUNCTIONS, "regexall", Param("pattern", STRING), Param("string", STRING))
def _regexall(pattern: str, text: str) -> list[Value]:
    compiled = _compile(pattern, 0)
    return [_match_value(compiled, match) for match in compiled.finditer(text)]


@define(FUNCTIONS, "replace", _STR, Param("substr", STRING), Param("replace", STRING))
def _replace(text: str, old: str, new: str) -> str:
    """Plain replacement, or a regex when ``substr`` is ``/.../``; then ``$1``, ``${1}`` and
    ``${name}`` in ``replace`` refer to capture groups (Go's syntax)."""
    if len(old) >= 2 and old.startswith("/") and old.endswith("/"):
        compiled = _compile(old[1:-1], 1)
        return compiled.sub(lambda match: _expand(new, match), text)
    return text.replace(old, new)


def _expand(template: str, match: re.Match[str]) -> str:
    def group(ref: re.Match[str]) -> str:
        if ref.group() == "$$":
            return "$"
        name = ref.group(1) or ref.group(2)
        key: int | str = int(name) if name.isdigit() else name
        try:
            return match.group(key) or ""
        except IndexError:  # no such group: Go expands it to nothing
            return ""

    return _GO_TEMPLATE_REF.sub(group, template)
