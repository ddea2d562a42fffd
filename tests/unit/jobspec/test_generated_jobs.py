"""Property: any job written as HCL text comes out in the API JSON with exactly what was written,
and round-trips through ``parse_json`` unchanged.

Jobs are generated as data (groups, tasks, counts, resources, constraints, meta, ports, durations),
printed as HCL with every string escaped as HCL requires, parsed, and the JSON is compared field
by field with the data: memory lands in MemoryMB, durations in nanoseconds, static ports in
ReservedPorts, names and meta values unchanged whatever their alphabet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster import jobspec

UNIT_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def hcl_quote(text: str) -> str:
    """A quoted HCL string whose value is exactly ``text`` (escapes, and no accidental templates)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        else:
            out.append(ch)
    # `${` and `%{` open templates; doubling the sigil makes them literal.
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


@dataclass
class Port:
    label: str
    static: int  # 0: dynamic
    to: int


@dataclass
class Constraint:
    attribute: str
    operator: str
    value: str


@dataclass
class Task:
    name: str
    cpu: int
    memory_mb: int
    kill_timeout: tuple[int, str]
    meta: dict[str, str]


@dataclass
class Group:
    name: str
    count: int
    tasks: list[Task]
    constraints: list[Constraint] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)


@dataclass
class Job:
    id: str
    priority: int
    meta: dict[str, str]
    groups: list[Group]


# Names: letters and digits of any script, with - and _ inside (never `/`, which Nomad refuses in task names).
names = st.text(
    alphabet=st.characters(categories=["L", "N"]) | st.sampled_from("-_"), min_size=1, max_size=12
).filter(lambda s: s[0] not in "-_")
# Free text: anything printable, quotes, backslashes, template sigils, tabs and newlines included.
free_text = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]) | st.sampled_from('"\\\n\t${}%'),
    max_size=30,
)
meta_keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
metas = st.dictionaries(meta_keys, free_text, max_size=4)
durations = st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNIT_NS)))

VALID_VALUES = {
    "regexp": st.sampled_from(["^web-[0-9]+$", "linux|darwin", ".*"]),
    "version": st.sampled_from([">= 1.2", "< 3.0, >= 2.1", "= 1.0.0"]),
    "semver": st.sampled_from([">= 1.6.0-beta.1", "~> 1.8", "< 2"]),
}


@st.composite
def constraints(draw: st.DrawFn) -> Constraint:
    operator = draw(
        st.sampled_from(
            [
                "=",
                "!=",
                ">",
                ">=",
                "<",
                "<=",
                "regexp",
                "version",
                "semver",
                "set_contains",
                "set_contains_any",
                "set_contains_all",
            ]
        )
    )
    value_strategy = VALID_VALUES.get(operator, free_text.filter(lambda s: s.strip() != ""))
    attribute = draw(
        st.sampled_from(["${attr.kernel.name}", "${node.class}", "${attr.cpu.arch}"])
        | meta_keys.map(lambda k: "${meta." + k + "}")
    )
    return Constraint(attribute, operator, draw(value_strategy))


@st.composite
def port_lists(draw: st.DrawFn) -> list[Port]:
    labels = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), max_size=4, unique=True))
    statics = draw(st.lists(st.integers(1, 65535), min_size=len(labels), max_size=len(labels), unique=True))
    ports = []
    for label, static in zip(labels, statics, strict=True):
        dynamic = draw(st.booleans())
        ports.append(Port(label, 0 if dynamic else static, draw(st.integers(0, 65535))))
    return ports


@st.composite
def tasks(draw: st.DrawFn, name: str) -> Task:
    return Task(
        name, draw(st.integers(1, 20_000)), draw(st.integers(10, 65_536)), draw(durations), draw(metas)
    )


@st.composite
def groups(draw: st.DrawFn, name: str) -> Group:
    task_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    return Group(
        name=name,
        count=draw(st.integers(0, 100)),
        tasks=[draw(tasks(n)) for n in task_names],
        constraints=draw(st.lists(constraints(), max_size=3)),
        ports=draw(port_lists()),
    )


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    group_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    return Job(
        id=draw(names),
        priority=draw(st.integers(1, 100)),
        meta=draw(metas),
        groups=[draw(groups(n)) for n in group_names],
    )


def meta_hcl(meta: dict[str, str], indent: str) -> list[str]:
    if not meta:
        return []  # no block at all: the JSON has no meta either
    return (
        [f"{indent}meta {{"] + [f"{indent}  {k} = {hcl_quote(v)}" for k, v in meta.items()] + [f"{indent}}}"]
    )


def to_hcl(job: Job) -> str:
    lines = [f"job {hcl_quote(job.id)} {{", '  datacenters = ["dc1"]', f"  priority = {job.priority}"]
    lines += meta_hcl(job.meta, "  ")
    for g in job.groups:
        lines += [f"  group {hcl_quote(g.name)} {{", f"    count = {g.count}"]
        for c in g.constraints:
            lines += [
                "    constraint {",
                f"      attribute = {hcl_quote(c.attribute)}",
                f"      operator = {hcl_quote(c.operator)}",
                f"      value = {hcl_quote(c.value)}",
                "    }",
            ]
        if g.ports:
            lines.append("    network {")
            for p in g.ports:
                lines.append(f"      port {hcl_quote(p.label)} {{")
                if p.static:
                    lines.append(f"        static = {p.static}")
                lines += [f"        to = {p.to}", "      }"]
            lines.append("    }")
        for t in g.tasks:
            amount, unit = t.kill_timeout
            lines += [
                f"    task {hcl_quote(t.name)} {{",
                '      driver = "docker"',
                '      config {\n        image = "busybox:1.36"\n      }',
                f'      kill_timeout = "{amount}{unit}"',
                f"      resources {{\n        cpu = {t.cpu}\n        memory = {t.memory_mb}\n      }}",
            ]
            lines += meta_hcl(t.meta, "      ")
            lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def assert_json_carries(data: dict[str, Any], job: Job) -> None:
    assert (data["ID"], data["Name"], data["Priority"]) == (job.id, job.id, job.priority)
    assert (data["Meta"] or {}) == job.meta
    assert [g["Name"] for g in data["TaskGroups"]] == [g.name for g in job.groups]
    for gj, g in zip(data["TaskGroups"], job.groups, strict=True):
        assert gj["Count"] == g.count
        assert [(c["LTarget"], c["Operand"], c["RTarget"]) for c in gj.get("Constraints") or []] == [
            (c.attribute, c.operator, c.value) for c in g.constraints
        ]
        if g.ports:
            net = gj["Networks"][0]
            reserved = [(p["Label"], p["Value"], p["To"]) for p in net.get("ReservedPorts") or []]
            dynamic = [(p["Label"], p["Value"], p["To"]) for p in net.get("DynamicPorts") or []]
            assert reserved == [(p.label, p.static, p.to) for p in g.ports if p.static]
            assert dynamic == [(p.label, 0, p.to) for p in g.ports if not p.static]
        else:
            assert not gj.get("Networks")
        assert [t["Name"] for t in gj["Tasks"]] == [t.name for t in g.tasks]
        for tj, t in zip(gj["Tasks"], g.tasks, strict=True):
            assert (tj["Resources"]["CPU"], tj["Resources"]["MemoryMB"]) == (t.cpu, t.memory_mb)
            amount, unit = t.kill_timeout
            assert tj["KillTimeout"] == amount * UNIT_NS[unit]
            assert (tj["Meta"] or {}) == t.meta


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs())
def test_generated_job_carries_what_was_written_and_round_trips(job: Job) -> None:
    source = to_hcl(job)
    parsed = jobspec.parse_hcl(source, filename="generated.nomad.hcl")
    first = jobspec.job_to_api_json(parsed.job)

    assert parsed.warnings == []
    assert_json_carries(json.loads(first)["Job"], job)
    again = jobspec.parse_json(first)
    assert again.job == parsed.job
    assert jobspec.job_to_api_json(again.job) == first


@given(free_text)
def test_hcl_quote_is_the_inverse_of_hcl_string_parsing(text: str) -> None:
    """The generator's own escaping, checked on its own, so a failure above is not blamed on it."""
    source = (
        f'job "q" {{\n  meta {{\n    v = {hcl_quote(text)}\n  }}\n  group "g" {{\n    task "t" {{\n'
        '      driver = "docker"\n      config {\n        image = "busybox:1.36"\n      }\n    }\n  }\n}\n'
    )
    assert jobspec.parse_hcl(source).job.Meta == {"v": text}
