"""Every standard function: what it returns for good arguments and what it says for bad ones."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from cluster.jobspec.hcl import STANDARD_FUNCTIONS, Value
from tests.unit.jobspec.hcl.helpers import ev, eval_error

# The HCL standard functions Nomad job files may use (try and can are special forms, tested below).
NOMAD_SUBSET = """
abs ceil floor log max min parseint pow signum
chomp format formatlist indent join lower regex regexall replace split strrev substr title trim trimprefix
trimsuffix trimspace upper
chunklist coalesce coalescelist compact concat contains distinct element flatten index keys length lookup merge
range reverse setintersection setproduct setunion slice sort values zipmap
base64decode base64encode csvdecode jsondecode jsonencode urlencode
tobool tolist tomap tonumber toset tostring
cidrhost cidrnetmask cidrsubnet uuidv5 md5 sha1 sha256 sha512
"""

GOOD: list[tuple[str, Value]] = [
    # numbers
    ("abs(-3)", 3),
    ("abs(2.5)", 2.5),
    ("ceil(1.2)", 2),
    ("ceil(-1.2)", -1),
    ("floor(1.8)", 1),
    ("floor(-1.5)", -2),
    ("log(8, 2)", 3.0),
    ("log(100, 10)", 2.0),
    ("max(1, 7.5, 3)", 7.5),
    ('max("4", 2)', 4),
    ("max([3, 9]...)", 9),
    ("min(4, -2, 3)", -2),
    ('parseint("ff", 16)', 255),
    ('parseint("-101", 2)', -5),
    ('parseint("FF", 16)', 255),
    ('parseint("zZ", 62)', 35 * 62 + 61),
    ("parseint(42, 10)", 42),
    ("pow(2, 10)", 1024),
    ("pow(2, -1)", 0.5),
    ("pow(4, 0.5)", 2.0),
    ("signum(-5)", -1),
    ("signum(0)", 0),
    ("signum(0.1)", 1),
    # strings
    ('chomp("hello\\n\\r\\n\\n")', "hello"),
    ('chomp("a\\nb")', "a\\nb".replace("\\n", "\n")),
    ('format("%s-%d", "web", 3)', "web-3"),
    ('format("%5.1f|%-5s|%05d|%+d|% d", 3.14159, "ab", 42, 7, 7)', "  3.1|ab   |00042|+7| 7"),
    ('format("%v %v %v %v", "s", 1.5, true, null)', "s 1.5 true null"),
    ('format("%v %#v", [1, "a"], "q")', '[1,"a"] "q"'),
    ('format("%q %t %%", "a\\"b", true)', '"a\\"b" true %'),
    ('format("%x %X %o %b %#x", 255, 255, 8, 5, 255)', "ff FF 10 101 0xff"),
    ('format("%e %g %g %.3g", 1234.5678, 0.0001, 100000, 3.14159)', "1.234568e+03 0.0001 100000 3.14"),
    ('format("%[2]s %[1]s", "a", "b")', "b a"),
    ('format("%.2s", "abcdef")', "ab"),
    ('format("%s", 10)', "10"),
    ('formatlist("%s=%d", ["a", "b"], [1, 2])', ["a=1", "b=2"]),
    ('formatlist("%s:%s", "x", ["a", "b"])', ["x:a", "x:b"]),
    ('formatlist("%s", "only")', ["only"]),
    ('indent(2, "a\\nb\\n")', "a\n  b\n  "),
    ('join(", ", ["a", "b"], ["c"])', "a, b, c"),
    ('join("-", [1, true])', "1-true"),
    ('join(",", [])', ""),
    ('lower("ÀB")', "àb"),
    ('upper("àb")', "ÀB"),
    ('regex("[a-z]+", "123abc456")', "abc"),
    ('regex("(\\\\d+)-(\\\\d+)", "x 12-34")', ["12", "34"]),
    ('regex("(?P<user>\\\\w+)@(?P<host>\\\\w+)", "me@there")', {"user": "me", "host": "there"}),
    ('regexall("\\\\d", "a1b2")', ["1", "2"]),
    ('regexall("x", "abc")', []),
    ('replace("a-b-c", "-", "+")', "a+b+c"),
    ('replace("hello world", "/o(\\\\w)?/", "[$1]")', "hell[] w[r]ld"),
    ('replace("ab", "/(?P<x>a)/", "$${x}$${x}$$")', "aa$b"),
    ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
    ('split(",", "")', [""]),
    ('split("", "abc")', ["a", "b", "c"]),
    ('strrev("abc")', "cba"),
    ('substr("hello world", 1, 4)', "ello"),
    ('substr("hello", -3, -1)', "llo"),
    ('substr("hello", 10, 2)', ""),
    ('title("hello wide-world_x")', "Hello Wide-World_x"),
    ('trim("?!hello?!", "!?")', "hello"),
    ('trim("  x ", "")', "  x "),
    ('trimprefix("helloworld", "hello")', "world"),
    ('trimprefix("x", "hello")', "x"),
    ('trimsuffix("helloworld", "world")', "hello"),
    ('trimspace("  \\t hi \\n")', "hi"),
    # collections
    ("chunklist([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
    ("chunklist([1, 2], 0)", [[1, 2]]),
    ('coalesce("", null, "b", "c")', "b"),
    ("coalesce(null, 0)", 0),
    ("coalescelist([], [1], [2])", [1]),
    ('compact(["a", "", null, "b"])', ["a", "b"]),
    ("concat([1], [], [2, 3])", [1, 2, 3]),
    ('contains(["a", "b"], "b")', True),
    ('contains([1], "1")', False),
    ("distinct([1, 2, 1, [3], [3]])", [1, 2, [3]]),
    ("element([1, 2, 3], 1)", 2),
    ("element([1, 2, 3], 4)", 2),
    ("flatten([[1, [2, [3]]], [], 4])", [1, 2, 3, 4]),
    ('index(["a", "b"], "b")', 1),
    ("keys({b = 1, a = 2})", ["a", "b"]),
    ("values({b = 1, a = 2})", [2, 1]),
    ('length("héllo")', 5),
    ("length([1, 2])", 2),
    ("length({a = 1})", 1),
    ('lookup({a = 1}, "a")', 1),
    ('lookup({a = 1}, "b", "dflt")', "dflt"),
    ('lookup({a = 1}, "b", null)', None),
    ("merge({a = 1, b = 1}, null, {b = 2})", {"a": 1, "b": 2}),
    ("merge()", {}),
    ("range(3)", [0, 1, 2]),
    ("range(1, 4)", [1, 2, 3]),
    ("range(5, 1)", [5, 4, 3, 2]),
    ("range(0, 10, 4)", [0, 4, 8]),
    ("range(1, 0, 1)", []),
    ("range(0, 1, 0.25)", [0.0, 0.25, 0.5, 0.75]),
    ("reverse([1, 2, 3])", [3, 2, 1]),
    ('setintersection(["b", "a", "c"], ["c", "a"])', ["a", "c"]),
    ('setunion(["b"], ["a", "b"], [])', ["a", "b"]),
    ("setunion([3], [1, 2])", [1, 2, 3]),
    ('setproduct(["a", "b"], [1, 2])', [["a", 1], ["a", 2], ["b", 1], ["b", 2]]),
    ("slice([1, 2, 3, 4], 1, 3)", [2, 3]),
    ("slice([1], 1, 1)", []),
    ('sort(["b", "a", "C"])', ["C", "a", "b"]),
    ("sort([10, 9])", ["10", "9"]),
    ('zipmap(["a", "b"], [1, [2]])', {"a": 1, "b": [2]}),
    # encoding
    ('base64encode("héllo")', "aMOpbGxv"),
    ('base64decode("aMOpbGxv")', "héllo"),
    ('csvdecode("a,b\\n1,\\"x,y\\"\\n3,4")', [{"a": "1", "b": "x,y"}, {"a": "3", "b": "4"}]),
    ('csvdecode("a,b\\n")', []),
    ('jsondecode("{\\"a\\": [1, 2.5, true, null, \\"s\\"]}")', {"a": [1, 2.5, True, None, "s"]}),
    ('jsondecode("1.0")', 1.0),
    (
        'jsonencode({b = [1, 2.5, "<&>"], a = null, c = true})',
        '{"a":null,"b":[1,2.5,"\\u003c\\u0026\\u003e"],"c":true}',
    ),
    ("jsonencode(1e3)", "1000"),
    ('jsonencode("é")', '"é"'),
    ('urlencode("a b&c=d/é~")', "a+b%26c%3Dd%2F%C3%A9~"),
    # conversions
    ('tobool("true")', True),
    ("tobool(false)", False),
    ("tobool(null)", None),
    ('tolist(["a"])', ["a"]),
    ("tolist(null)", None),
    ("tomap({a = 1})", {"a": 1}),
    ('tonumber("1.5")', 1.5),
    ('tonumber("12")', 12),
    ("tonumber(3)", 3),
    ("tonumber(null)", None),
    ('toset(["b", "a", "b"])', ["a", "b"]),
    ("toset([2, 1, 2])", [1, 2]),
    ("tostring(1.5)", "1.5"),
    ("tostring(true)", "true"),
    ('tostring("x")', "x"),
    ("tostring(null)", None),
    # try and can
    ("try(undefined, [][0], 3)", 3),
    ('try("first", undefined)', "first"),
    ("can(undefined)", False),
    ("can(1 + 1)", True),
    ("can([1][5])", False),
    # network and hashes
    ('cidrhost("10.12.112.0/20", 16)', "10.12.112.16"),
    ('cidrhost("10.12.112.0/20", -1)', "10.12.127.255"),
    ('cidrhost("fd00:fd12:3456:7890::/56", 16)', "fd00:fd12:3456:7800::10"),
    ('cidrnetmask("172.16.0.0/12")', "255.240.0.0"),
    ('cidrsubnet("172.16.0.0/12", 4, 2)', "172.18.0.0/16"),
    ('cidrsubnet("10.1.2.0/24", 4, 15)', "10.1.2.240/28"),
    ('cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)', "fd00:fd12:3456:7800:a200::/72"),
    ('uuidv5("dns", "www.terraform.io")', "a5008fae-b28c-5ba5-96cd-82b4c53552d6"),
    ('uuidv5("url", "https://x")', str(uuid.uuid5(uuid.NAMESPACE_URL, "https://x"))),
    ('uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "a")', str(uuid.uuid5(uuid.NAMESPACE_DNS, "a"))),
    ('md5("hello world")', "5eb63bbbe01eeed093cb22bb8f5acdc3"),
    ('sha1("hello world")', "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"),
    ('sha256("hello world")', "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
    ('sha512("é")', hashlib.sha512("é".encode()).hexdigest()),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[case[0] for case in GOOD])
def test_function_results(text: str, expected: Value) -> None:
    result = ev(text)
    assert result == expected
    assert type(result) is type(expected)


BAD: list[tuple[str, str, int]] = [
    ('abs("x")', 'abs(): argument "num": a number is required, got string "x"', 9),
    ("abs()", "abs(): expects 1 argument, got 0", 5),
    ("ceil([])", 'ceil(): argument "num": a number is required, got list', 10),
    ("floor(null)", 'floor(): argument "num" must not be null', 11),
    ("log(0, 10)", "log(): the number must be greater than zero", 9),
    ("log(8, 1)", "log(): the base must be greater than zero and not 1", 12),
    ("max()", "max(): expects at least 1 argument, got 0", 5),
    ('min(1, "a")', 'min(): argument "numbers": a number is required, got string "a"', 12),
    ('parseint("12", 99)', "parseint(): the base must be between 2 and 62, got 99", 20),
    ('parseint("g", 16)', 'parseint(): cannot parse "g" as a base 16 integer', 14),
    ('parseint("", 10)', 'parseint(): cannot parse "" as a base 10 integer', 14),
    ('parseint("1", 1.5)', 'parseint(): argument "base": a whole number is required, got 1.5', 19),
    ("pow(10, 100000)", "pow(): the result is too large", 5),
    ("pow(-8, 0.5)", "pow(): the result is not a real number", 5),
    ("pow(0, -1)", "pow(): zero cannot be raised to a negative power", 5),
    ("signum(true)", 'signum(): argument "num": a number is required, got bool', 12),
    ("chomp({})", 'chomp(): argument "str": a string is required, got object', 11),
    (
        'format("%d", "x")',
        "format(): '%d' cannot format argument 1: a number is required, got string \"x\"",
        18,
    ),
    ('format("%d", 1.5)', "format(): '%d' cannot format argument 1: a whole number is required, got 1.5", 18),
    ('format("%s %s", 1)', "format(): not enough arguments: no value for '%s'", 12),
    ('format("%s", 1, 2)', "format(): too many arguments: the format string uses 1 of 2", 21),
    ('format("%t", 1)', "format(): '%t' cannot format argument 1: a bool is required, got number", 18),
    ('format("%s", null)', "format(): '%s' cannot format argument 1: null cannot be formatted", 18),
    ('format("%z", 1)', "format(): '%z' cannot format argument 1: unsupported verb %z", 18),
    ('format("abc %")', "format(): the format string ends with an incomplete verb '%'", 12),
    ('format("%[3]s", 1)', "format(): not enough arguments: no value for '%[3]s'", 12),
    (
        'formatlist("%s%s", ["a"], ["b", "c"])',
        "formatlist(): all list arguments must have the same length (1), got 2",
        31,
    ),
    ('indent(-1, "x")', "indent(): the number of spaces must be between 0 and 1000, got -1", 12),
    ('indent(1001, "x")', "indent(): the number of spaces must be between 0 and 1000, got 1001", 12),
    ('join(",", [[1]])', "join(): every element must be a string: a string is required, got list", 15),
    ('join(",", [null])', "join(): cannot join a null element", 15),
    ('join(",")', "join(): expects at least 2 arguments, got 1", 5),
    (
        'regex("[", "x")',
        "regex(): invalid regular expression '[': unterminated character set at position 0",
        11,
    ),
    ('regex("z", "abc")', "regex(): the pattern did not match any part of the string", 16),
    (
        'regexall("(", "x")',
        "regexall(): invalid regular expression '(': missing ), unterminated subpattern at position 0",
        14,
    ),
    (
        'replace("x", "/(/", "y")',
        "replace(): invalid regular expression '(': missing ), unterminated subpattern at position 0",
        18,
    ),
    ('split(",")', "split(): expects 2 arguments, got 1", 5),
    ('substr("x", "a", 1)', 'substr(): argument "offset": a number is required, got string "a"', 17),
    ('trim("x")', "trim(): expects 2 arguments, got 1", 5),
    ('trimprefix(["x"], "y")', 'trimprefix(): argument "str": a string is required, got list', 16),
    ('upper("a", "b")', "upper(): expects 1 argument, got 2", 5),
    ("lower(true, 1)", "lower(): expects 1 argument, got 2", 5),
    ("title(null)", 'title(): argument "str" must not be null', 11),
    ("strrev([])", 'strrev(): argument "str": a string is required, got list', 12),
    ('trimsuffix("a")', "trimsuffix(): expects 2 arguments, got 1", 5),
    ("trimspace({})", 'trimspace(): argument "str": a string is required, got object', 15),
    ("chunklist([1], -1)", "chunklist(): the chunk size cannot be negative", 20),
    ('coalesce(null, "")', "coalesce(): no non-null, non-empty-string arguments", 5),
    ("coalescelist([], [])", "coalescelist(): no non-empty list arguments", 5),
    ('coalescelist("a")', 'coalescelist(): argument "list": a list is required, got string', 18),
    ("compact([[1]])", "compact(): every element must be a string: a string is required, got list", 13),
    ("concat()", "concat(): expects at least 1 argument, got 0", 5),
    ('concat([1], "x")', 'concat(): argument "seqs": a list is required, got string', 17),
    ('contains("ab", "a")', 'contains(): argument "list": a list is required, got string', 14),
    ("distinct({})", 'distinct(): argument "list": a list is required, got object', 14),
    ("element([], 0)", "element(): cannot take an element of an empty list", 13),
    ("element([1], -1)", "element(): the index cannot be negative, got -1", 18),
    ("flatten(1)", 'flatten(): argument "list": a list is required, got number', 13),
    ("index([1], 2)", "index(): the value is not in the list", 16),
    ("keys([1])", 'keys(): argument "inputMap": a map or object is required, got list', 10),
    ('values("x")', 'values(): argument "mapping": a map or object is required, got string', 12),
    ("length(5)", "length(): cannot take the length of a number", 12),
    ("length(null)", 'length(): argument "value" must not be null', 12),
    ('lookup({}, "a")', 'lookup(): no key "a" in the map and no default given', 16),
    ('lookup({}, "a", 1, 2)', "lookup(): expects 2 to 3 arguments, got 4", 5),
    ("merge([1])", 'merge(): argument "maps": a map or object is required, got list', 11),
    ("range()", "range(): expects 1 to 3 arguments, got 0", 5),
    ("range(0, 10, 0)", "range(): the step cannot be zero", 18),
    ("range(0, 5000)", "range(): more than 1024 numbers would be generated; use a larger step", 5),
    ('reverse("abc")', 'reverse(): argument "list": a list is required, got string', 13),
    (
        'setintersection(["a"], "b")',
        'setintersection(): argument "other_sets": a list is required, got string',
        28,
    ),
    ("setunion()", "setunion(): expects at least 1 argument, got 0", 5),
    ("setproduct([1])", "setproduct(): expects at least 2 arguments, got 1", 5),
    (
        "setproduct(range(100), range(100), [1, 2])",
        "setproduct(): the product would have 20000 elements; at most 10000 are allowed",
        5,
    ),
    ("slice([1, 2], 3, 3)", "slice(): the start index 3 is outside the list of 2 elements", 19),
    ("slice([1, 2], 1, 0)", "slice(): the end index 0 must be between 1 and 2", 22),
    ("sort([[1]])", "sort(): every element must be a string: a string is required, got list", 10),
    ('zipmap(["a"], [])', "zipmap(): there are 1 keys but 0 values", 19),
    ("zipmap([[1]], [1])", "zipmap(): every key must be a string: a string is required, got list", 12),
    ('base64decode("!!")', "base64decode(): the string is not valid base64", 18),
    ('base64decode("/w==")', "base64decode(): the decoded bytes are not valid UTF-8 text", 18),
    ("base64encode([])", 'base64encode(): argument "str": a string is required, got list', 18),
    ('csvdecode("a,b\\n1")', "csvdecode(): row 2 has 1 fields; the header has 2", 15),
    ('csvdecode("")', "csvdecode(): the CSV text has no header row", 15),
    (
        'jsondecode("{")',
        "jsondecode(): invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        16,
    ),
    ('jsondecode("NaN")', "jsondecode(): invalid JSON: NaN is not a JSON number", 16),
    (
        'jsondecode(format("%s%s", join("", [for i in range(65) : "["]), join("", [for i in range(65) : "]"])))',
        "jsondecode(): the JSON is nested more than 64 levels deep",
        16,
    ),
    (
        'jsondecode(format("%s%s", join("", [for i in range(1024) : "[[[[[["]), join("", [for i in range(1024) : "]]]]]]"])))',
        "jsondecode(): the JSON is nested more than 64 levels deep",
        16,
    ),
    ("jsonencode()", "jsonencode(): expects 1 argument, got 0", 5),
    ("urlencode([])", 'urlencode(): argument "str": a string is required, got list', 15),
    ("tobool(1)", "tobool(): a bool is required, got number", 12),
    ('tonumber("x")', 'tonumber(): a number is required, got string "x"', 14),
    ("tostring([])", "tostring(): a string is required, got list", 14),
    ("tolist({})", "tolist(): cannot convert object to list", 12),
    ("toset(1)", "toset(): cannot convert number to set", 11),
    ("tomap([1])", "tomap(): cannot convert list to map", 11),
    ('cidrhost("10.0.0.0/30", 9)', "cidrhost(): host number 9 is outside the 4 addresses of 10.0.0.0/30", 29),
    ('cidrhost("nope", 1)', 'cidrhost(): "nope" is not a CIDR prefix such as 10.0.0.0/16', 14),
    ('cidrnetmask("fd00::/8")', "cidrnetmask(): only IPv4 prefixes have a netmask", 17),
    (
        'cidrsubnet("10.0.0.0/30", 4, 0)',
        "cidrsubnet(): cannot extend the /30 prefix by 4 bits (the maximum is /32)",
        31,
    ),
    ('cidrsubnet("10.0.0.0/16", 2, 4)', "cidrsubnet(): network number 4 does not fit in 2 bits", 34),
    ('uuidv5("nope", "x")', 'uuidv5(): the namespace must be dns, url, oid, x500 or a UUID, got "nope"', 12),
    ("md5([])", 'md5(): argument "str": a string is required, got list', 9),
    ("sha1()", "sha1(): expects 1 argument, got 0", 5),
    ("sha256(null)", 'sha256(): argument "str" must not be null', 12),
    ('sha512("a", "b")', "sha512(): expects 1 argument, got 2", 5),
]


@pytest.mark.parametrize(("text", "message", "column"), BAD, ids=[case[0] for case in BAD])
def test_function_errors(text: str, message: str, column: int) -> None:
    assert eval_error(text) == (message, 1, column)


def test_every_standard_function_is_exercised_with_good_and_bad_arguments() -> None:
    names = set(STANDARD_FUNCTIONS)

    def called(cases: list[tuple[str, Value]] | list[tuple[str, str, int]]) -> set[str]:
        return {case[0].split("(")[0] for case in cases}

    assert names - called(GOOD) == set()
    assert names - called(BAD) == set()
    assert names == set(NOMAD_SUBSET.split())


def test_no_nondeterministic_or_io_functions_in_the_standard_library() -> None:
    for name in ("uuid", "timestamp", "file", "fileexists", "templatefile", "bcrypt", "env"):
        assert name not in STANDARD_FUNCTIONS
