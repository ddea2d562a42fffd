"""Tokenizer for HCL native syntax.

HCL is modal: code, quoted templates (``"a ${b} c"``) and heredoc templates nest inside each
other, so the lexer keeps a stack of frames. A ``${`` or ``%{`` in a template pushes a code
frame; the ``}`` that balances it pops back to the template. Each code frame counts its own
``{``/``}`` so an object constructor inside an interpolation closes correctly.

Code is scanned with one compiled regex; template literals with small regexes for runs of plain
characters. The lexer never stops at an error: it records a diagnostic and emits something the
parser can continue with, so one run reports every problem it can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Lexed", "Token", "tokenize"]

# Token kinds. Punctuation tokens use their own text as kind ("{", "==", "...").
NEWLINE = "newline"
IDENT = "identifier"
NUMBER = "number"
OQUOTE = "opening quote"
CQUOTE = "closing quote"
LIT = "literal"  # a piece of template text; ``value`` holds it with escapes applied
INTERP = "${"  # ``flag``: strip marker ``${~``
CONTROL = "%{"  # ``flag``: strip marker ``%{~``
TCLOSE = "template }"  # the ``}`` closing ``${``/``%{``; ``flag``: strip marker ``~}``
HEREDOC = "heredoc"  # ``value``: the marker; ``flag``: indented (``<<-``)
HEREDOC_END = "heredoc end"
EOF = "end of file"
INVALID = "invalid"

# Common code tokens; "special" sends everything that changes lexer state to a slower path.
_CODE = re.compile(
    r"""
    (?P<ws>[ \t\r\ufeff]+)
    |(?P<nl>\n)
    |(?P<ident>[^\W\d][\w-]*)
    |(?P<special>[{}"~]|/\*|<<)
    |(?P<comment>\#[^\n]*|//[^\n]*)
    |(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<punct>\.\.\.|==|!=|<=|>=|&&|\|\||=>|[-+*/%<>!=?:,.()\[\]])
    """,
    re.VERBOSE,
)
_HEREDOC_START = re.compile(r"<<(?P<indent>-)?(?P<marker>[^\W\d][\w-]*)[ \t]*\r?\n")
_QUOTED_RUN = re.compile(r'[^"\\$%\n]+')
_HEREDOC_RUN = re.compile(r"[^$%\n]+")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}

_CODE_FRAME, _QUOTED_FRAME, _HEREDOC_FRAME = 0, 1, 2


class Token:
    """One token: ``kind``, the source range ``[start, end)``, and for literals the text."""

    __slots__ = ("end", "flag", "kind", "start", "value")

    def __init__(self, kind: str, start: int, end: int, value: str = "", flag: bool = False) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.value = value
        self.flag = flag

    def __repr__(self) -> str:
        return f"Token({self.kind!r}, {self.start}, {self.end}, {self.value!r}, {self.flag})"


@dataclass(slots=True)
class _Frame:
    kind: int
    start: int  # where the construct opened, for "unterminated" errors
    interp: bool = False  # a code frame opened by ${ or %{
    depth: int = 0  # open { in a code frame
    end_marker: re.Pattern[str] | None = None  # heredoc closing line
    marker: str = ""  # heredoc marker name
    line_start: bool = True  # heredoc: the next character begins a line


@dataclass(slots=True)
class Lexed:
    """The tokens (ending with EOF) and lexical errors as (offset, message). ``fatal_offset`` is
    where an unterminated construct began, or -1: errors after it are only its consequences."""

    tokens: list[Token]
    errors: list[tuple[int, str]]
    fatal_offset: int


def tokenize(source: str) -> Lexed:
    """Split ``source`` into tokens."""
    return _Lexer(source).run()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.i = 0
        self.tokens: list[Token] = []
        self.diags: list[tuple[int, str]] = []
        self.frames: list[_Frame] = [_Frame(_CODE_FRAME, 0)]
        self.fatal_offset = -1

    def run(self) -> Lexed:
        n = len(self.src)
        while self.i < n:
            frame = self.frames[-1]
            if frame.kind == _CODE_FRAME:
                self._code(frame)
            elif frame.kind == _QUOTED_FRAME:
                self._quoted()
            else:
                self._heredoc(frame)
        self._close_frames_at_eof()
        self.tokens.append(Token(EOF, n, n))
        return Lexed(self.tokens, self.diags, self.fatal_offset)

    def _error(self, offset: int, message: str) -> None:
        self.diags.append((offset, message))

    def _emit(self, kind: str, start: int, end: int, value: str = "", flag: bool = False) -> None:
        self.tokens.append(Token(kind, start, end, value, flag))

    # -- code ---------------------------------------------------------------------------------
    def _code(self, frame: _Frame) -> None:
        """Scan code until the frame changes (a string, heredoc or interpolation opens or closes)."""
        src, n, append, match = self.src, len(self.src), self.tokens.append, _CODE.match
        i = self.i
        while i < n:
            m = match(src, i)
            if m is None:
                self._invalid(i, src[i])
                i = self.i
                continue
            group, end = m.lastgroup, m.end()
            if group == "ident":
                append(Token(IDENT, i, end))
            elif group == "punct":
                append(Token(m.group(), i, end))
            elif group == "nl":
                append(Token(NEWLINE, i, end))
            elif group == "number":
                append(Token(NUMBER, i, end))
            elif group == "special":
                self.i = i
                self._special(frame, i)
                if self.frames[-1] is not frame:
                    return
                end = self.i
            i = end  # whitespace and comments produce no token
        self.i = i

    def _special(self, frame: _Frame, i: int) -> None:
        c = self.src[i]
        if c == "{":
            frame.depth += 1
            self._emit("{", i, i + 1)
            self.i = i + 1
        elif c == "}" or (c == "~" and self.src.startswith("~}", i)):
            self._close_brace(frame, i, c == "~")
        elif c == '"':
            self._emit(OQUOTE, i, i + 1)
            self.frames.append(_Frame(_QUOTED_FRAME, i))
            self.i = i + 1
        elif c == "/":
            self._block_comment(i)
        elif c == "<":
            self._heredoc_start(i)
        else:
            self._invalid(i, c)

    def _close_brace(self, frame: _Frame, i: int, strip: bool) -> None:
        if frame.interp and frame.depth == 0:
            width = 2 if strip else 1
            self._emit(TCLOSE, i, i + width, flag=strip)
            self.frames.pop()
            self.i = i + width
            return
        if strip:
            self._error(i, "unexpected '~}' outside a template")
            self._emit(INVALID, i, i + 2)
            self.i = i + 2
            return
        frame.depth = max(0, frame.depth - 1)
        self._emit("}", i, i + 1)
        self.i = i + 1

    def _heredoc_start(self, i: int) -> None:
        m = _HEREDOC_START.match(self.src, i)
        if m is None:
            self._error(i, "invalid heredoc: expected a marker name and a newline after '<<'")
            self._emit(INVALID, i, i + 2)
            self.i = i + 2
            return
        marker = m.group("marker")
        self._emit(HEREDOC, i, m.end(), marker, m.group("indent") is not None)
        closing = re.compile(r"[ \t]*" + re.escape(marker) + r"[ \t]*(?=\r?\n|\Z)")
        self.frames.append(_Frame(_HEREDOC_FRAME, i, end_marker=closing, marker=marker))
        self.i = m.end()

    def _block_comment(self, i: int) -> None:
        close = self.src.find("*/", i + 2)
        if close < 0:
            self._error(i, "unterminated comment: '/*' has no closing '*/'")
            if self.fatal_offset < 0:
                self.fatal_offset = i
            self.i = len(self.src)
        else:
            self.i = close + 2

    def _invalid(self, i: int, char: str) -> None:
        self._error(i, f"unexpected character {char!r}")
        self._emit(INVALID, i, i + 1)
        self.i = i + 1

    # -- quoted templates ---------------------------------------------------------------------
    def _quoted(self) -> None:
        src, start = self.src, self.i
        i, pieces = self._quoted_literal(start)
        if i > start:
            self._emit(LIT, start, i, "".join(pieces))
        if i >= len(src) or src[i] == "\n":
            self._error(
                self.frames[-1].start, "unterminated string: expected '\"' before the end of the line"
            )
            self._emit(CQUOTE, i, i)
            self.frames.pop()
        elif src[i] == '"':
            self._emit(CQUOTE, i, i + 1)
            self.frames.pop()
            i += 1
        else:  # ${ or %{
            i = self._open_template_sequence(i)
        self.i = i

    def _quoted_literal(self, i: int) -> tuple[int, list[str]]:
        """Scan literal text up to a quote, newline or template sequence; apply escapes."""
        src, n = self.src, len(self.src)
        pieces: list[str] = []
        while i < n:
            m = _QUOTED_RUN.match(src, i)
            if m is not None:
                pieces.append(m.group())
                i = m.end()
                if i >= n:
                    break
            c = src[i]
            if c in '"\n':
                break
            if c == "\\":
                text, i = self._escape(i)
                pieces.append(text)
            elif src.startswith("{", i + 1):
                break
            elif src.startswith(c + "{", i + 1):  # $${ and %%{ are literal ${ and %{
                pieces.append(c + "{")
                i += 3
            else:
                pieces.append(c)
                i += 1
        return i, pieces

    def _escape(self, i: int) -> tuple[str, int]:
        """Decode the escape sequence at ``src[i] == '\\'``; returns its text and the next index."""
        src = self.src
        kind = src[i + 1 : i + 2]
        if kind in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[kind], i + 2
        if kind in ("u", "U"):
            digits = (_HEX4 if kind == "u" else _HEX8).match(src, i + 2)
            if digits is not None:
                code = int(digits.group(), 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    return chr(code), digits.end()
                self._error(i, f'invalid escape sequence "{src[i : digits.end()]}": not a Unicode character')
                return src[i : digits.end()], digits.end()
            width = 4 if kind == "u" else 8
            self._error(i, f'invalid escape sequence "\\{kind}": expected {width} hexadecimal digits')
            return src[i : i + 2], i + 2
        if kind in ("", "\n"):
            self._error(i, "invalid escape sequence: '\\' at the end of the line")
            return "\\", i + 1
        self._error(
            i, f'invalid escape sequence "\\{kind}": use \\n, \\r, \\t, \\", \\\\, \\uNNNN or \\UNNNNNNNN'
        )
        return src[i : i + 2], i + 2

    def _open_template_sequence(self, i: int) -> int:
        kind = INTERP if self.src[i] == "$" else CONTROL
        strip = self.src.startswith("~", i + 2)
        end = i + (3 if strip else 2)
        self._emit(kind, i, end, flag=strip)
        self.frames.append(_Frame(_CODE_FRAME, i, interp=True))
        return end

    # -- heredoc templates --------------------------------------------------------------------
    def _heredoc(self, frame: _Frame) -> None:
        src, i = self.src, self.i
        if frame.line_start:
            assert frame.end_marker is not None
            m = frame.end_marker.match(src, i)
            if m is not None:
                marker_start = i + len(m.group()) - len(m.group().lstrip(" \t"))
                self._emit(HEREDOC_END, marker_start, m.end())
                self.frames.pop()
                self.i = m.end()
                return
        start = i
        i, text = self._heredoc_line(i)
        if i > start:
            self._emit(LIT, start, i, text)
        frame.line_start = text.endswith("\n")
        if i < len(src) and not frame.line_start:  # stopped at ${ or %{
            i = self._open_template_sequence(i)
        self.i = i

    def _heredoc_line(self, i: int) -> tuple[int, str]:
        """Scan heredoc text up to and including a newline, or up to a template sequence.
        Heredocs have no backslash escapes; only ``$${`` and ``%%{``."""
        src, n = self.src, len(self.src)
        pieces: list[str] = []
        while i < n:
            m = _HEREDOC_RUN.match(src, i)
            if m is not None:
                pieces.append(m.group())
                i = m.end()
                if i >= n:
                    break
            c = src[i]
            if c == "\n":
                pieces.append("\n")
                return i + 1, "".join(pieces)
            if src.startswith("{", i + 1):
                break
            if src.startswith(c + "{", i + 1):
                pieces.append(c + "{")
                i += 3
            else:
                pieces.append(c)
                i += 1
        return i, "".join(pieces)

    # -- end of input -------------------------------------------------------------------------
    def _close_frames_at_eof(self) -> None:
        """Report the innermost unterminated construct and emit closers so parsing can finish."""
        n = len(self.src)
        reported = False
        while len(self.frames) > 1:
            frame = self.frames.pop()
            if not reported:
                reported = self._report_unterminated(frame)
            if frame.kind == _QUOTED_FRAME:
                self._emit(CQUOTE, n, n)
            elif frame.kind == _HEREDOC_FRAME:
                self._emit(HEREDOC_END, n, n)
            elif frame.interp:
                self._emit(TCLOSE, n, n)

    def _report_unterminated(self, frame: _Frame) -> bool:
        if frame.kind == _QUOTED_FRAME:
            message = "unterminated string: expected '\"' before the end of the file"
        elif frame.kind == _HEREDOC_FRAME:
            message = f'unterminated heredoc: no line "{frame.marker}" closes it before the end of the file'
        elif frame.interp:
            opener = self.src[frame.start : frame.start + 2]
            message = f"unclosed '{opener}': expected '}}' before the end of the file"
        else:  # pragma: no cover - only the root code frame is not an interpolation
            return False
        self._error(frame.start, message)
        if self.fatal_offset < 0 or frame.start < self.fatal_offset:
            self.fatal_offset = frame.start
        return True
