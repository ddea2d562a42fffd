"""Placement rules a job states at job, group or task level: constraints (hard), affinities and
spreads (soft, scored). The scheduler reads them in its feasibility and ranking steps, hence
``HotStruct``.
"""

from __future__ import annotations

from cluster.structs.base import HotStruct

__all__ = ["Affinity", "Constraint", "Spread", "SpreadTarget"]


class Constraint(HotStruct, kw_only=True):
    """``constraint { attribute, operator, value }``: LTarget Operand RTarget must hold on a node."""

    LTarget: str = ""
    RTarget: str = ""
    Operand: str = ""  # "" becomes "=" on canonicalize


class Affinity(HotStruct, kw_only=True):
    """A preference: nodes where ``LTarget Operand RTarget`` holds score ``Weight`` (-100..100)."""

    LTarget: str = ""
    RTarget: str = ""
    Operand: str = ""
    Weight: int | None = None  # Go *int8; 50 after canonicalize


class SpreadTarget(HotStruct, kw_only=True):
    """``target "value" { percent }``: the share of allocations wanted where the attribute is Value."""

    Value: str = ""
    Percent: int = 0  # Go uint8


class Spread(HotStruct, kw_only=True):
    """Spread allocations over the values of a node attribute, optionally to target percentages."""

    Attribute: str = ""
    Weight: int | None = None  # Go *int8; 50 after canonicalize
    SpreadTarget: list[SpreadTarget] | None = None
