"""Encoding and conversion functions: base64decode base64encode csvdecode jsondecode jsonencode
urlencode, and tobool tolist tomap tonumber toset tostring.

``yamldecode`` is not provided (it would need a YAML library, and job files rarely use it).
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import urllib.parse
from collections.abc import Callable

from cluster.jobspec.hcl.functions.base import ANY, STRING, Function, FunctionError, Param, define
from cluster.jobspec.hcl.functions.jsonenc import json_encode
from cluster.jobspec.hcl.values import (
    ConversionError,
    Value,
    canonical_set,
    to_bool,
    to_number,
    to_string,
    type_name,
)

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Function] = {}
_STR = Param("str", STRING)
_VALUE = Param("v", ANY, allow_null=True)
# Decoded values are walked recursively later (equality, jsonencode); keep them shallow.
_MAX_JSON_DEPTH = 64


@define(FUNCTIONS, "base64encode", _STR)
def _base64encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@define(FUNCTIONS, "base64decode", _STR)
def _base64decode(text: str) -> str:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise FunctionError("the string is not valid base64", 0) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError("the decoded bytes are not valid UTF-8 text", 0) from None


@define(FUNCTIONS, "urlencode", _STR)
def _urlencode(text: str) -> str:
    """Go's url.QueryEscape: spaces become '+', everything but letters, digits and -_.~ is escaped."""
    return urllib.parse.quote_plus(text, safe="")


@define(FUNCTIONS, "jsonencode", _VALUE)
def _jsonencode(value: Value) -> str:
    return json_encode(value)


@define(FUNCTIONS, "jsondecode", _STR)
def _jsondecode(text: str) -> Value:
    try:
        decoded: Value = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise FunctionError(f"invalid JSON: {exc}", 0) from None
    except RecursionError:
        decoded = None
        depth = _MAX_JSON_DEPTH + 1
    else:
        depth = _depth(decoded)
    if depth > _MAX_JSON_DEPTH:
        raise FunctionError(f"the JSON is nested more than {_MAX_JSON_DEPTH} levels deep", 0)
    return decoded


def _depth(value: Value) -> int:
    """How many lists and objects nest in ``value`` (``[[1]]`` is 2); iterative, as it may be deep."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, outer = stack.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, outer + 1)
            stack.extend((child, outer + 1) for child in (item if isinstance(item, list) else item.values()))
    return deepest


def _reject_constant(name: str) -> Value:
    raise ValueError(f"{name} is not a JSON number")


@define(FUNCTIONS, "csvdecode", _STR)
def _csvdecode(text: str) -> list[Value]:
    """Rows after the header row become objects keyed by the header's field names."""
    try:
        rows = list(csv.reader(text.splitlines(keepends=True), strict=True))
    except csv.Error as exc:
        raise FunctionError(f"invalid CSV: {exc}", 0) from None
    if not rows:
        raise FunctionError("the CSV text has no header row", 0)
    header, records = rows[0], rows[1:]
    result: list[Value] = []
    for line, record in enumerate(records, start=2):
        if len(record) != len(header):
            raise FunctionError(f"row {line} has {len(record)} fields; the header has {len(header)}", 0)
        row: dict[str, Value] = dict(zip(header, record, strict=True))
        result.append(row)
    return result


@define(FUNCTIONS, "tostring", _VALUE)
def _tostring(value: Value) -> Value:
    return None if value is None else _convert(to_string, value)


@define(FUNCTIONS, "tonumber", _VALUE)
def _tonumber(value: Value) -> Value:
    return None if value is None else _convert(to_number, value)


@define(FUNCTIONS, "tobool", _VALUE)
def _tobool(value: Value) -> Value:
    return None if value is None else _convert(to_bool, value)


@define(FUNCTIONS, "tolist", _VALUE)
def _tolist(value: Value) -> Value:
    if value is None or isinstance(value, list):
        return value
    raise FunctionError(f"cannot convert {type_name(value)} to list", 0)


@define(FUNCTIONS, "toset", _VALUE)
def _toset(value: Value) -> Value:
    if value is None:
        return None
    if isinstance(value, list):
        return canonical_set(value)
    raise FunctionError(f"cannot convert {type_name(value)} to set", 0)


@define(FUNCTIONS, "tomap", _VALUE)
def _tomap(value: Value) -> Value:
    if value is None or isinstance(value, dict):
        return value
    raise FunctionError(f"cannot convert {type_name(value)} to map", 0)


def _convert(convert: Callable[[Value], Value], value: Value) -> Value:
    try:
        result: Value = convert(value)
    except ConversionError as exc:
        raise FunctionError(exc.message, 0) from None
    return result
