"""Collection functions: chunklist coalesce coalescelist compact concat contains distinct element
flatten index keys length lookup merge range reverse setintersection setproduct setunion slice sort
values zipmap.

Objects are iterated in key order, as HCL does (keys, values, and for-expressions agree).
Sets are lists in cty's set order (see ``values.canonical_set``).
"""

from __future__ import annotations

import itertools
import math

from cluster.jobspec.hcl.functions.base import (
    ANY,
    INT,
    LIST,
    MAP,
    NUMBER,
    STRING,
    Function,
    FunctionError,
    Param,
    define,
)
from cluster.jobspec.hcl.values import (
    ConversionError,
    Value,
    canonical_set,
    equal,
    quote,
    to_string,
    type_name,
)

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Function] = {}
_LIST = Param("list", LIST)
_MAX_RANGE_ELEMENTS = 1024
_MAX_PRODUCT_ELEMENTS = 10_000


@define(FUNCTIONS, "chunklist", _LIST, Param("size", INT))
def _chunklist(items: list[Value], size: int) -> list[Value]:
    if size < 0:
        raise FunctionError("the chunk size cannot be negative", 1)
    if size == 0:
        return [list(items)]
    return [items[i : i + size] for i in range(0, len(items), size)]


@define(FUNCTIONS, "coalesce", variadic=Param("vals", ANY, allow_null=True))
def _coalesce(*values: Value) -> Value:
    for value in values:
        if value is not None and value != "":
            return value
    raise FunctionError("no non-null, non-empty-string arguments")


@define(FUNCTIONS, "coalescelist", Param("list", LIST), variadic=Param("lists", LIST))
def _coalescelist(*lists: list[Value]) -> list[Value]:
    for items in lists:
        if items:
            return items
    raise FunctionError("no non-empty list arguments")


@define(FUNCTIONS, "compact", _LIST)
def _compact(items: list[Value]) -> list[Value]:
    result: list[Value] = []
    for item in items:
        if item is None or item == "":
            continue
        try:
            result.append(to_string(item))
        except ConversionError as exc:
            raise FunctionError(f"every element must be a string: {exc.message}", 0) from None
    return result


@define(FUNCTIONS, "concat", Param("seq", LIST), variadic=Param("seqs", LIST))
def _concat(*lists: list[Value]) -> list[Value]:
    return [item for items in lists for item in items]


@define(FUNCTIONS, "contains", _LIST, Param("value", ANY, allow_null=True))
def _contains(items: list[Value], value: Value) -> bool:
    return any(equal(item, value) for item in items)


@define(FUNCTIONS, "distinct", _LIST)
def _distinct(items: list[Value]) -> list[Value]:
    result: list[Value] = []
    for item in items:
        if not any(equal(item, seen) for seen in result):
            result.append(item)
    return result


@define(FUNCTIONS, "element", _LIST, Param("index", INT))
def _element(items: list[Value], index: int) -> Value:
    """The element at ``index``, wrapping around past the end (so element(l, n) cycles)."""
    if not items:
        raise FunctionError("cannot take an element of an empty list", 0)
    if index < 0:
        raise FunctionError(f"the index cannot be negative, got {index}", 1)
    return items[index % len(items)]


@define(FUNCTIONS, "flatten", _LIST)
def _flatten(items: list[Value]) -> list[Value]:
    result: list[Value] = []
    _flatten_into(items, result)
    return result


def _flatten_into(items: list[Value], result: list[Value]) -> None:
    for item in items:
        if isinstance(item, list):
            _flatten_into(item, result)
        else:
            result.append(item)


@define(FUNCTIONS, "index", _LIST, Param("value", ANY, allow_null=True))
def _index(items: list[Value], value: Value) -> int:
    for position, item in enumerate(items):
        if equal(item, value):
            return position
    raise FunctionError("the value is not in the list", 1)


@define(FUNCTIONS, "keys", Param("inputMap", MAP))
def _keys(mapping: dict[str, Value]) -> list[Value]:
    return list(sorted(mapping))


@define(FUNCTIONS, "values", Param("mapping", MAP))
def _values(mapping: dict[str, Value]) -> list[Value]:
    return [mapping[key] for key in sorted(mapping)]


@define(FUNCTIONS, "length", Param("value", ANY))
def _length(value: Value) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise FunctionError(f"cannot take the length of a {type_name(value)}", 0)


@define(
    FUNCTIONS,
    "lookup",
    Param("inputMap", MAP),
    Param("key", STRING),
    Param("default", ANY, allow_null=True),
    optional=1,
)
def _lookup(mapping: dict[str, Value], key: str, *default: Value) -> Value:
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise FunctionError(f"no key {quote(key)} in the map and no default given", 1)


@define(FUNCTIONS, "merge", variadic=Param("maps", MAP, allow_null=True))
def _merge(*mappings: dict[str, Value] | None) -> dict[str, Value]:
    result: dict[str, Value] = {}
    for mapping in mappings:
        if mapping is not None:
            result.update(mapping)
    return result


@define(
    FUNCTIONS,
    "range",
    Param("start_or_limit", NUMBER),
    Param("limit", NUMBER),
    Param("step", NUMBER),
    optional=2,
)
def _range(*args: int | float) -> list[Value]:
    """range(limit), range(start, limit) or range(start, limit, step); at most 1024 numbers."""
    start, limit = (0, args[0]) if len(args) == 1 else (args[0], args[1])
    step = args[2] if len(args) == 3 else (1 if start <= limit else -1)
    if step == 0:
        raise FunctionError("the step cannot be zero", 2)
    count = max(0, -int((start - limit) // step))
    if count > _MAX_RANGE_ELEMENTS:
        raise FunctionError(f"more than {_MAX_RANGE_ELEMENTS} numbers would be generated; use a larger step")
    return [start + i * step for i in range(count)]


@define(FUNCTIONS, "reverse", _LIST)
def _reverse(items: list[Value]) -> list[Value]:
    return items[::-1]


@define(FUNCTIONS, "setintersection", Param("first_set", LIST), variadic=Param("other_sets", LIST))
def _setintersection(first: list[Value], *others: list[Value]) -> list[Value]:
    common = [item for item in first if all(any(equal(item, other) for other in group) for group in others)]
    return canonical_set(common)


@define(FUNCTIONS, "setunion", Param("first_set", LIST), variadic=Param("other_sets", LIST))
def _setunion(*sets: list[Value]) -> list[Value]:
    return canonical_set([item for items in sets for item in items])


@define(FUNCTIONS, "setproduct", Param("set1", LIST), Param("set2", LIST), variadic=Param("sets", LIST))
def _setproduct(*sets: list[Value]) -> list[Value]:
    size = math.prod(len(items) for items in sets)
    if size > _MAX_PRODUCT_ELEMENTS:
        raise FunctionError(
            f"the product would have {size} elements; at most {_MAX_PRODUCT_ELEMENTS} are allowed"
        )
    return [list(combination) for combination in itertools.product(*sets)]


@define(FUNCTIONS, "slice", _LIST, Param("start_index", INT), Param("end_index", INT))
def _slice(items: list[Value], start: int, end: int) -> list[Value]:
    if start < 0 or start > len(items):
        raise FunctionError(f"the start index {start} is outside the list of {len(items)} elements", 1)
    if end < start or end > len(items):
        raise FunctionError(f"the end index {end} must be between {start} and {len(items)}", 2)
    return items[start:end]


@define(FUNCTIONS, "sort", _LIST)
def _sort(items: list[Value]) -> list[Value]:
    """Lexicographic order of the elements as strings (numbers too: HCL's sort is on strings)."""
    strings: list[str] = []
    for item in items:
        try:
            strings.append(to_string(item))
        except ConversionError as exc:
            raise FunctionError(f"every element must be a string: {exc.message}", 0) from None
    return list(sorted(strings))


@define(FUNCTIONS, "zipmap", Param("keys", LIST), Param("values", LIST))
def _zipmap(keys: list[Value], values: list[Value]) -> dict[str, Value]:
    if len(keys) != len(values):
        raise FunctionError(f"there are {len(keys)} keys but {len(values)} values", 1)
    result: dict[str, Value] = {}
    for key, value in zip(keys, values, strict=True):
        try:
            result[to_string(key)] = value
        except ConversionError as exc:
            raise FunctionError(f"every key must be a string: {exc.message}", 0) from None
    return result
