"""HCL's standard functions, as supported by Nomad job files.

``STANDARD_FUNCTIONS`` maps each name to a :class:`Function`. ``try`` and ``can`` are not here:
they need their arguments unevaluated, so the evaluator implements them itself. ``file`` is
not here either: it reads files, which the pure core does not do; callers inject it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from cluster.jobspec.hcl.functions import collection, encoding, network, numeric, strings
from cluster.jobspec.hcl.functions.base import Function, FunctionError
from cluster.jobspec.hcl.values import Value

__all__ = ["STANDARD_FUNCTIONS", "Function", "FunctionError"]


def _combine() -> dict[str, Function]:
    table: dict[str, Function] = {}
    for module in (numeric, strings, collection, encoding, network):
        overlap = table.keys() & module.FUNCTIONS.keys()
        assert not overlap, overlap
        table.update(module.FUNCTIONS)
    return table


# Typed as plain callables so that callers can copy it and add their own (such as ``file``).
STANDARD_FUNCTIONS: Mapping[str, Callable[..., Value]] = MappingProxyType(dict(_combine()))
