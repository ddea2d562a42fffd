"""Nomad ``template`` blocks rendered into the task directory, without Consul or Vault.

Caravan renders the part of consul-template's language that needs neither: plain text, comments
(``{{/* ... */}}``), whitespace trimming (``{{-`` and ``-}}``), custom delimiters, and the ``env``
function (``{{ env "NAME" }}``) over the task's environment. Any other action (``key``, ``service``,
``secret``, ``range`` ...) is a ``TemplateError`` that names the template and the action, so a job
that needs Consul fails clearly at setup instead of running with a half-rendered file.

A template's ``destination`` (and ``source``) may use ``${NOMAD_*}`` interpolation; relative paths
are relative to the task directory, and nothing may be written outside the allocation directory.
With ``env = true`` the rendered file is read as ``KEY=value`` lines that join the task's
environment. ``change_mode`` says what a later re-render that changed the file does; the task
runner acts on it (``noop``, ``restart``, ``signal`` with ``change_signal``, ``script``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from agents.client.allocdir import AllocDir
from agents.client.taskenv import TaskEnv
from cluster.errors import CaravanError
from cluster.structs import Template

__all__ = ["RenderedTemplate", "TemplateError", "TemplateRenderer", "parse_env_file", "render_text"]

_ENV_CALL = re.compile(r'env\s+"((?:[^"\\]|\\.)*)"')
_ISOLATED_ROOTS = {"/alloc": "alloc", "/local": "local", "/secrets": "secrets"}


class TemplateError(CaravanError):
    """A template cannot be rendered (unsupported action, missing source, path outside the sandbox)."""


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    """One template after a render: where it went, and whether its content changed."""

    template: Template
    path: Path
    changed: bool
    env: dict[str, str]


def render_text(text: str, env: TaskEnv, *, left: str = "{{", right: str = "}}", name: str = "template",
                missing_key_error: bool = False) -> str:
    """Renders ``text``: every action between ``left`` and ``right`` must be a comment or ``env "X"``."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find(left, pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        end = text.find(right, start + len(left))
        if end < 0:
            raise TemplateError(f"{name}: unclosed action at offset {start}")
        literal = text[pos:start]
        action = text[start + len(left):end]
        if action.startswith("-") and (len(action) == 1 or action[1] in " \t\r\n"):
            literal, action = literal.rstrip(), action[1:]
        pos = end + len(right)
        if action.endswith("-") and (len(action) == 1 or action[-2] in " \t\r\n"):
            action = action[:-1]
            pos += len(text[pos:]) - len(text[pos:].lstrip())
        out.append(literal)
        out.append(_evaluate(action.strip(), env, name, missing_key_error))


def _evaluate(action: str, env: TaskEnv, name: str, missing_key_error: bool) -> str:
    if action.startswith("/*") and action.endswith("*/"):
        return ""
    match = _ENV_CALL.fullmatch(action)
    if match is None:
        word = action.split()[0] if action.split() else action
        raise TemplateError(
            f'{name}: unsupported template action "{word}": Caravan renders templates without Consul or '
            'Vault, with {{ env "NAME" }} only')
    key = match.group(1).replace('\\"', '"')
    value = env.env.get(key)
    if value is None and missing_key_error:
        raise TemplateError(f'{name}: environment variable "{key}" is not set')
    return value or ""


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped, ``export`` and quotes allowed)."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"line {number} of an env template is not KEY=value: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


class TemplateRenderer:
    """Renders one task's templates, remembering what it wrote so a re-render can tell a change."""

    def __init__(self, templates: list[Template], alloc_dir: AllocDir, task_name: str) -> None:
        self.templates = templates
        self.alloc_dir = alloc_dir
        self.task_dir = alloc_dir.task_dir(task_name)
        self._last: dict[int, str] = {}

    def render_all(self, env: TaskEnv) -> list[RenderedTemplate]:
        """Renders every template (``once`` templates only the first time), in job order."""
        rendered = []
        for index, template in enumerate(self.templates):
            if template.Once and index in self._last:
                continue
            rendered.append(self._render(index, template, env))
        return rendered

    def _render(self, index: int, template: Template, env: TaskEnv) -> RenderedTemplate:
        name = f'template "{template.DestPath}"'
        text = self._source_text(template, env, name)
        content = render_text(text, env, left=template.LeftDelim or "{{", right=template.RightDelim or "}}",
                              name=name, missing_key_error=bool(template.ErrMissingKey))
        path = self._sandboxed(env.interpolate(template.DestPath or ""), name)
        changed = self._last.get(index) != content
        if changed or not path.exists():
            _write(path, content, int(template.Perms or "0644", 8))
        self._last[index] = content
        extra = parse_env_file(content) if template.Envvars else {}
        return RenderedTemplate(template, path, changed, extra)

    def _source_text(self, template: Template, env: TaskEnv, name: str) -> str:
        if template.EmbeddedTmpl:
            return template.EmbeddedTmpl
        if not template.SourcePath:
            return ""
        source = Path(env.interpolate(template.SourcePath))
        if not source.is_absolute():
            source = self.task_dir.path / source
        try:
            return source.read_text()
        except OSError as e:
            raise TemplateError(f"{name}: cannot read source {source}: {e.strerror or e}") from None

    def _sandboxed(self, destination: str, name: str) -> Path:
        if not destination:
            raise TemplateError(f"{name}: a template needs a destination")
        for root, sub in _ISOLATED_ROOTS.items():
            if destination == root or destination.startswith(root + "/"):
                base = self.alloc_dir.shared_dir if sub == "alloc" else self.task_dir.path / sub
                destination = str(base) + destination[len(root):]
                break
        path = Path(destination)
        if not path.is_absolute():
            path = self.task_dir.path / path
        resolved = Path(os.path.normpath(path))
        if not resolved.is_relative_to(self.alloc_dir.path):
            raise TemplateError(f"{name}: destination {destination} is outside the allocation directory")
        return resolved


def _write(path: Path, content: str, mode: int) -> None:
    """Writes atomically, so a task reading the file during a re-render sees the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    tmp.chmod(mode)
    os.replace(tmp, path)
