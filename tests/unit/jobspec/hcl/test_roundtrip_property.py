"""Property: any body of nested blocks and literal attributes, written out as HCL text by a small
renderer, parses and evaluates back to the same data."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster.jobspec.hcl import EvalContext, Value, body_to_value, parse


@dataclass
class BlockSpec:
    type: str
    labels: list[str]
    body: BodySpec


@dataclass
class BodySpec:
    attributes: dict[str, Value] = field(default_factory=dict)
    blocks: list[BlockSpec] = field(default_factory=list)


# -- strategies ----------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
IDENTIFIER = st.builds(
    lambda first, rest: first + rest,
    st.characters(categories=["Ll", "Lu"]),
    st.text(st.sampled_from("abcxyz_-019é"), max_size=8),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn, depth: int = 0) -> BodySpec:
    attributes = draw(st.dictionaries(IDENTIFIER, VALUES, max_size=4))
    blocks: list[BlockSpec] = []
    if depth < 3:
        block_types = draw(st.lists(IDENTIFIER.filter(lambda n: n not in attributes), max_size=3 - depth))
        for block_type in block_types:
            labels = draw(st.lists(TEXT | IDENTIFIER, max_size=2))
            blocks.append(BlockSpec(block_type, labels, draw(bodies(depth + 1))))
    return BodySpec(attributes, blocks)


# -- renderer ------------------------------------------------------------------------------------
def render_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    escaped = "".join(out).replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def render_heredoc(text: str) -> str:
    """The closing marker must be alone on its line, so a newline always follows it (inside
    brackets newlines are ignored; in objects and bodies they separate items)."""
    body = text.replace("${", "$${").replace("%{", "%%{")
    return f"<<EOT\n{body}EOT\n"


def heredoc_safe(text: str) -> bool:
    lines = text.split("\n")[:-1]
    return text.endswith("\n") and "\r" not in text and all(line.strip(" \t") != "EOT" for line in lines)


def render_value(value: Value, indent: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return render_heredoc(value) if heredoc_safe(value) else render_string(value)
    inner = indent + "  "
    if isinstance(value, list):
        if len(value) > 2:  # one item per line, trailing comma
            items = "".join(f"{inner}{render_value(v, inner)},\n" for v in value)
            return f"[\n{items}{indent}]"
        return "[" + ", ".join(render_value(v, inner) for v in value) + "]"
    if len(value) > 1:  # newline-separated items, mixing '=' and ':'
        lines = [
            f"{inner}{render_string(k)} {'=' if i % 2 else ':'} {render_value(v, inner)}\n"
            for i, (k, v) in enumerate(value.items())
        ]
        return "{\n" + "".join(lines) + indent + "}"
    return "{" + ", ".join(f"{render_string(k)} = {render_value(v, inner)}" for k, v in value.items()) + "}"


def render_body(body: BodySpec, indent: str = "") -> str:
    out = [f"{indent}# generated\n"]
    for name, value in body.attributes.items():
        out.append(f"{indent}{name} = {render_value(value, indent)}\n")
    for block in body.blocks:
        labels = "".join(f" {render_string(label)}" for label in block.labels)
        out.append(f"{indent}{block.type}{labels} {{\n{render_body(block.body, indent + '  ')}{indent}}}\n")
    return "".join(out)


def expected_value(body: BodySpec) -> dict[str, Value]:
    result: dict[str, Value] = dict(body.attributes)
    for block in body.blocks:
        nested: Value = expected_value(block.body)
        for label in reversed(block.labels):
            nested = {label: nested}
        entries = result.setdefault(block.type, [])
        assert isinstance(entries, list)
        entries.append(nested)
    return result


def same(a: Value, b: Value) -> bool:
    """Equality that tells bools from numbers (Python's == says True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100)
@given(bodies())
def test_rendered_bodies_parse_and_evaluate_back(body: BodySpec) -> None:
    text = render_body(body)
    parsed = parse(text, "gen.hcl")
    value = body_to_value(parsed, EvalContext())
    assert same(value, expected_value(body)), text
    assert [b.type for b in parsed.blocks] == [b.type for b in body.blocks]
    assert list(parsed.attributes) == list(body.attributes)


@settings(deadline=None, max_examples=100)
@given(VALUES)
def test_rendered_values_survive_jsonencode_and_jsondecode(value: Value) -> None:
    parsed = parse(f"v = jsondecode(jsonencode({render_value(value, '')}))\n")
    result = body_to_value(parsed, EvalContext())["v"]
    assert same(result, value)
