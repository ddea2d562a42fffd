"""Nomad ACL policy text (HCL or JSON) to a :class:`~cluster.acl.policy.Policy`.

    policy = parse_policy(rules)                 # PolicyError lists every mistake with its line
    policy = parse_policy(rules, strict=False)   # ignore unknown fields (evaluating stored rules)

Rules are checked the way Nomad checks them: names of namespaces, node pools and host volumes
(``*`` globs allowed), policy levels, and capability names per rule type; ``policy`` levels are
expanded to capabilities here, once. Unknown fields are errors when writing a policy (``strict``),
and ignored when evaluating one written before a field was known, as Nomad does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from cluster.acl import capabilities as caps
from cluster.acl.policy import NamedRule, NamespaceRule, Policy, PolicyError, VariablesPathRule
from cluster.acl.source import Attr, Block, Body, Spec, read_hcl, read_json, rule_path
from cluster.errors import Diagnostic
from cluster.jobspec import hcl

__all__ = ["MAX_RULES_CHARS", "parse_policy"]

# Nomad sets no limit; real policies are a few KB. A bound on what one request can make us parse.
MAX_RULES_CHARS = 1 << 20

_PATH_SPEC = Spec(attrs=frozenset({"capabilities"}))
_VARIABLES_SPEC = Spec(blocks={"path": (True, _PATH_SPEC)})
_NAMESPACE_SPEC = Spec(frozenset({"policy", "capabilities"}), {"variables": (False, _VARIABLES_SPEC)})
_NAMED_SPEC = Spec(frozenset({"policy", "capabilities"}))
_LEVEL_SPEC = Spec(frozenset({"policy"}))
_ROOT_SPEC = Spec(
    blocks={
        "namespace": (True, _NAMESPACE_SPEC),
        "node_pool": (True, _NAMED_SPEC),
        "host_volume": (True, _NAMED_SPEC),
        "agent": (False, _LEVEL_SPEC),
        "node": (False, _LEVEL_SPEC),
        "operator": (False, _NAMED_SPEC),
        "quota": (False, _LEVEL_SPEC),
        "plugin": (False, _LEVEL_SPEC),
    }
)

_NAMESPACE_NAME = re.compile(r"[a-zA-Z0-9*-]{1,128}")
_NODE_POOL_NAME = re.compile(r"[a-zA-Z0-9_*-]{1,128}")
_HOST_VOLUME_NAME = _NAMESPACE_NAME


def parse_policy(rules: str, *, filename: str = "", strict: bool = True) -> Policy:
    """The policy in ``rules`` (HCL, or JSON when it starts with ``{``); raises PolicyError.

    Empty rules are an empty policy that grants nothing, as in Nomad; any other text must hold
    at least one rule.
    """
    if not rules.strip():
        return Policy()
    if len(rules) > MAX_RULES_CHARS:
        raise PolicyError([Diagnostic(f"policy rules are longer than {MAX_RULES_CHARS} characters", "", filename)])
    diags: list[Diagnostic] = []
    if rules.lstrip().startswith("{"):
        body = read_json(rules, filename, _ROOT_SPEC, diags)
    else:
        body = read_hcl(rules, filename, diags)
    decoder = _Decoder(filename, strict, diags)
    policy = decoder.policy(body) if body is not None else Policy()
    if not diags and policy.is_empty():
        diags.append(Diagnostic("a policy needs at least one rule, such as namespace \"default\" { policy = \"read\" }", "", filename, 1, 1))
    if diags:
        raise PolicyError(diags)
    return policy


def _suggestion(name: str, known: frozenset[str] | list[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


class _Decoder:
    """Walks a policy tree, building rules and collecting every problem as a Diagnostic."""

    def __init__(self, filename: str, strict: bool, diags: list[Diagnostic]) -> None:
        self.filename = filename
        self.strict = strict
        self.diags = diags

    def error(self, pos: hcl.Pos, path: str, message: str) -> None:
        self.diags.append(Diagnostic(message, path, pos.filename or self.filename, pos.line, pos.column))

    # -- structure --------------------------------------------------------------------------------

    def known_fields(self, body: Body, spec: Spec, path: str) -> None:
        """Unknown attributes and blocks: errors when strict, ignored otherwise."""
        if not self.strict:
            return
        where = f" in {path}" if path else " at the top of a policy"
        for attr in body.attrs:
            if attr.name not in spec.attrs:
                hint = _suggestion(attr.name, spec.attrs | frozenset(spec.blocks))
                self.error(attr.pos, rule_path(path, attr.name, []), f'unknown field "{attr.name}"{where}{hint}')
        for block in body.blocks:
            if block.type not in spec.blocks:
                hint = _suggestion(block.type, frozenset(spec.blocks) | spec.attrs)
                self.error(block.pos, rule_path(path, block.type, []), f'unknown block "{block.type}"{where}{hint}')

    def labels_fit(self, block: Block, labelled: bool, what: str, path: str) -> bool:
        if labelled and len(block.labels) != 1:
            self.error(block.pos, path, f'a {block.type} rule needs exactly one label, the {what}: {block.type} "name" {{ ... }}')
            return False
        if not labelled and block.labels:
            self.error(block.pos, path, f"a {block.type} rule takes no label: {block.type} {{ ... }}")
            return False
        return True

    # -- the policy -------------------------------------------------------------------------------

    def policy(self, body: Body) -> Policy:
        self.known_fields(body, _ROOT_SPEC, "")
        namespaces = [self.namespace(b) for b in body.blocks if b.type == "namespace"]
        node_pools = [
            self.named(b, _NODE_POOL_NAME, caps.NODE_POOL_CAPABILITIES, caps.expand_node_pool_policy)
            for b in body.blocks if b.type == "node_pool"
        ]
        host_volumes = [
            self.named(b, _HOST_VOLUME_NAME, caps.HOST_VOLUME_CAPABILITIES, caps.expand_host_volume_policy)
            for b in body.blocks if b.type == "host_volume"
        ]
        singles = self.singles(body)
        operator_level, operator_caps = self.operator(singles.get("operator"))
        return Policy(
            namespaces=tuple(r for r in namespaces if r is not None),
            node_pools=tuple(r for r in node_pools if r is not None),
            host_volumes=tuple(r for r in host_volumes if r is not None),
            agent=self.simple(singles.get("agent"), caps.SIMPLE_LEVELS),
            node=self.simple(singles.get("node"), caps.SIMPLE_LEVELS),
            operator=operator_level,
            operator_capabilities=operator_caps,
            quota=self.simple(singles.get("quota"), caps.SIMPLE_LEVELS),
            plugin=self.simple(singles.get("plugin"), caps.PLUGIN_LEVELS),
        )

    def singles(self, body: Body) -> dict[str, Block]:
        """The one agent, node, operator, quota and plugin block each policy may have."""
        seen: dict[str, Block] = {}
        for block in body.blocks:
            labelled = _ROOT_SPEC.blocks.get(block.type, (True, _ROOT_SPEC))[0]
            if labelled or not self.labels_fit(block, False, "", block.type):
                continue
            first = seen.get(block.type)
            if first is not None:
                self.error(block.pos, block.type, f"duplicate {block.type} rule; the first is at line {first.pos.line}")
                continue
            seen[block.type] = block
        return seen

    def namespace(self, block: Block) -> NamespaceRule | None:
        path = rule_path("", "namespace", block.labels)
        if not self.labels_fit(block, True, "namespace name or glob", path):
            return None
        name = block.labels[0]
        self.check_name(name, _NAMESPACE_NAME, block, path, "namespace")
        self.known_fields(block.body, _NAMESPACE_SPEC, path)
        granted = self.level_caps(block.body, path, caps.NAMESPACE_LEVELS, caps.expand_namespace_policy)
        granted |= self.capability_list(block.body, path, caps.NAMESPACE_CAPABILITIES)
        variables = self.variables(block.body, path)
        return NamespaceRule(name, caps.expand_namespace_capabilities(granted), variables, block.pos.line)

    def named(
        self,
        block: Block,
        pattern: re.Pattern[str],
        allowed: frozenset[str],
        expand: Callable[[str], frozenset[str]],
    ) -> NamedRule | None:
        """A node_pool or host_volume rule."""
        path = rule_path("", block.type, block.labels)
        if not self.labels_fit(block, True, f"{block.type.replace('_', ' ')} name or glob", path):
            return None
        self.check_name(block.labels[0], pattern, block, path, block.type.replace("_", " "))
        self.known_fields(block.body, _NAMED_SPEC, path)
        granted = self.level_caps(block.body, path, caps.SIMPLE_LEVELS, expand)
        granted |= self.capability_list(block.body, path, allowed)
        return NamedRule(block.labels[0], granted, block.pos.line)

    def check_name(self, name: str, pattern: re.Pattern[str], block: Block, path: str, what: str) -> None:
        if not pattern.fullmatch(name):
            extra = ", _" if "_" in pattern.pattern else ""
            self.error(
                block.pos, path,
                f'invalid {what} name "{name}": use 1 to 128 letters, digits, -{extra} or * (a glob)',
            )

    def simple(self, block: Block | None, levels: frozenset[str]) -> str:
        """agent, node, quota, plugin: a required ``policy`` level and nothing else."""
        if block is None:
            return ""
        self.known_fields(block.body, _LEVEL_SPEC, block.type)
        level = self.level(block.body, block.type, levels)
        if level is None and not any(a.name == "policy" for a in block.body.attrs):
            self.error(block.pos, f"{block.type}.policy", f"a {block.type} rule needs a policy: {_levels(levels)}")
        return level or ""

    def operator(self, block: Block | None) -> tuple[str, frozenset[str]]:
        if block is None:
            return "", frozenset()
        self.known_fields(block.body, _NAMED_SPEC, "operator")
        level = self.level(block.body, "operator", caps.SIMPLE_LEVELS) or ""
        granted = caps.expand_operator_policy(level) | self.capability_list(block.body, "operator", caps.OPERATOR_CAPABILITIES)
        if self.attr(block.body, "policy") is None and self.attr(block.body, "capabilities") is None:
            self.error(block.pos, "operator", f"an operator rule needs a policy ({_levels(caps.SIMPLE_LEVELS)}) or capabilities")
        return level, granted

    def variables(self, body: Body, path: str) -> tuple[VariablesPathRule, ...]:
        blocks = [b for b in body.blocks if b.type == "variables"]
        rules: list[VariablesPathRule] = []
        for index, block in enumerate(blocks):
            vpath = f"{path}.variables"
            if index:
                self.error(block.pos, vpath, f"duplicate variables block; the first is at line {blocks[0].pos.line}")
                continue
            if not self.labels_fit(block, False, "", vpath):
                continue
            self.known_fields(block.body, _VARIABLES_SPEC, vpath)
            paths = [b for b in block.body.blocks if b.type == "path"]
            if not paths:
                self.error(block.pos, vpath, 'a variables block needs at least one path "..." { capabilities = [...] } rule')
            rules.extend(r for r in (self.variable_path(b, vpath) for b in paths) if r is not None)
        return tuple(rules)

    def variable_path(self, block: Block, parent: str) -> VariablesPathRule | None:
        path = rule_path(parent, "path", block.labels)
        if not self.labels_fit(block, True, "variable path or glob", path):
            return None
        spec = block.labels[0]
        if not spec:
            self.error(block.pos, path, "a variable path may not be empty")
        elif spec.startswith("/"):
            self.error(block.pos, path, f'invalid variable path "{spec}": it may not start with "/"')
        self.known_fields(block.body, _PATH_SPEC, path)
        granted = self.capability_list(block.body, path, caps.VARIABLE_CAPABILITIES)
        return VariablesPathRule(spec, caps.expand_variable_capabilities(granted), block.pos.line)

    # -- values -----------------------------------------------------------------------------------

    def attr(self, body: Body, name: str) -> Attr | None:
        return next((a for a in body.attrs if a.name == name), None)

    def level(self, body: Body, path: str, levels: frozenset[str]) -> str | None:
        """The ``policy`` attribute when present and valid, else None (errors recorded)."""
        attr = self.attr(body, "policy")
        if attr is None:
            return None
        value: Any = attr.value
        if not isinstance(value, str):
            self.error(attr.value_pos, f"{path}.policy", f"expected a policy level ({_levels(levels)}), got {_type_name(value)}")
            return None
        if value not in levels:
            hint = _suggestion(value, levels)
            self.error(attr.value_pos, f"{path}.policy", f'invalid policy "{value}"; expected one of {_levels(levels)}{hint}')
            return None
        return value

    def level_caps(
        self, body: Body, path: str, levels: frozenset[str], expand: Callable[[str], frozenset[str]]
    ) -> frozenset[str]:
        return expand(self.level(body, path, levels) or "")

    def capability_list(self, body: Body, path: str, allowed: frozenset[str]) -> frozenset[str]:
        attr = self.attr(body, "capabilities")
        if attr is None:
            return frozenset()
        if not isinstance(attr.value, list):
            self.error(attr.value_pos, f"{path}.capabilities", f"expected a list of capability names, got {_type_name(attr.value)}")
            return frozenset()
        found: set[str] = set()
        for index, cap in enumerate(attr.value):
            where = f"{path}.capabilities[{index}]"
            if not isinstance(cap, str):
                self.error(attr.at(index), where, f"expected a capability name, got {_type_name(cap)}")
            elif cap not in allowed:
                self.error(attr.at(index), where, f'unknown capability "{cap}"{_suggestion(cap, allowed)}')
            else:
                found.add(cap)
        return frozenset(found)


def _levels(levels: frozenset[str]) -> str:
    return ", ".join(f'"{x}"' for x in sorted(levels))


def _type_name(value: Any) -> str:
    """How a wrong value is named in an error: its JSON-ish type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
