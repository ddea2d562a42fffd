"""``caravan job validate`` and ``caravan job run -output``, run as a user runs them: the installed
console script in a subprocess, checking exit codes, stdout and stderr.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.jobspec.corpus_support import CORPUS_DIR, GOLDEN_DIR

CARAVAN = Path(sys.executable).parent / "caravan"
EXAMPLE = CORPUS_DIR / "example.nomad.hcl"
EXAMPLE_GOLDEN = GOLDEN_DIR / "example.json"

VARIABLE_JOB = """\
variable "tag" {
  type    = string
  default = "from-default"
}

job "vars" {
  datacenters = ["dc1"]

  group "g" {
    task "t" {
      driver = "docker"

      config {
        image = "redis:${var.tag}"
      }
    }
  }
}
"""

BAD_JOB = """\
job "web" {
  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
      resources {
        memory = "lots"
      }
    }
  }
}
"""


def caravan(
    *args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the console script with a clean environment (no NOMAD_VAR_* from the developer's shell)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_VAR_")}
    return subprocess.run(
        [str(CARAVAN), *map(str, args)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def image_of(stdout: str) -> str:
    image: str = json.loads(stdout)["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
    return image


@pytest.fixture
def var_job(tmp_path: Path) -> Path:
    path = tmp_path / "vars.nomad.hcl"
    path.write_text(VARIABLE_JOB, encoding="utf-8")
    (tmp_path / "one.vars.hcl").write_text('tag = "from-file-one"\n', encoding="utf-8")
    (tmp_path / "two.vars.hcl").write_text('tag = "from-file-two"\n', encoding="utf-8")
    return path


def test_console_script_is_installed() -> None:
    assert CARAVAN.exists(), f"{CARAVAN} missing: install the project (pip install -e .)"


def test_validate_good_file() -> None:
    result = caravan("job", "validate", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Job validation successful\n"
    assert result.stderr == ""


def test_validate_bad_file_prints_positioned_errors_on_stderr_only(tmp_path: Path) -> None:
    path = tmp_path / "bad.nomad.hcl"
    path.write_text(BAD_JOB, encoding="utf-8")
    result = caravan("job", "validate", path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        f'{path}: line 9, column 18: job.group[cache].task[redis].resources.memory: expected a whole number, got "lots"'
        in result.stderr
    )


def test_validate_prints_deprecation_warnings_on_stderr() -> None:
    result = caravan("job", "validate", CORPUS_DIR / "periodic-cron-legacy.nomad.hcl")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Job validation successful\n"
    assert "Warning:" in result.stderr and "line 7" in result.stderr and "job.periodic.cron" in result.stderr


def test_run_output_prints_the_golden_json() -> None:
    result = caravan("job", "run", "-output", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(EXAMPLE_GOLDEN.read_bytes())
    assert result.stdout.encode() == EXAMPLE_GOLDEN.read_bytes() + b"\n"


def test_run_output_reads_the_job_from_stdin() -> None:
    result = caravan("job", "run", "-output", "-", stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(EXAMPLE_GOLDEN.read_bytes())


def test_run_output_of_its_own_json_output_is_the_same(tmp_path: Path) -> None:
    path = tmp_path / "example.json"
    path.write_bytes(EXAMPLE_GOLDEN.read_bytes())
    result = caravan("job", "run", "-output", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == EXAMPLE_GOLDEN.read_bytes() + b"\n"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.nomad.hcl"
    result = caravan("job", "validate", missing)
    assert result.returncode == 1
    assert result.stdout == ""
    assert str(missing) in result.stderr
    assert "cannot read job file" in result.stderr and "No such file" in result.stderr


def test_run_without_an_api_says_where_it_tried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the CLI connects: nothing listens there
    result = caravan("job", "run", EXAMPLE, env={"NOMAD_ADDR": f"http://127.0.0.1:{port}", "CARAVAN_ADDR": ""})
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"Error submitting job: Error connecting to http://127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        ([], {}, "from-default"),
        ([], {"NOMAD_VAR_tag": "from-env"}, "from-env"),
        (["-var-file", "one.vars.hcl", "-var-file", "two.vars.hcl"], {}, "from-file-two"),
        (["-var", "tag=first", "-var", "tag=last"], {}, "last"),
        (["-var-file", "one.vars.hcl", "-var", "tag=from-flag"], {"NOMAD_VAR_tag": "from-env"}, "from-flag"),
    ],
    ids=["default", "env", "later-var-file-wins", "last-var-wins", "var-beats-all"],
)
def test_variable_precedence(var_job: Path, flags: list[str], env: dict[str, str], expected: str) -> None:
    result = caravan("job", "run", "-output", *flags, var_job.name, env=env, cwd=var_job.parent)
    assert result.returncode == 0, result.stderr
    assert image_of(result.stdout) == f"redis:{expected}"


def test_var_file_beats_environment(var_job: Path) -> None:
    result = caravan(
        "job",
        "run",
        "-output",
        "-var-file",
        "one.vars.hcl",
        var_job.name,
        env={"NOMAD_VAR_tag": "from-env"},
        cwd=var_job.parent,
    )
    assert result.returncode == 0, result.stderr
    assert image_of(result.stdout) == "redis:from-file-one"


def test_environment_value_of_an_undeclared_variable_is_ignored(var_job: Path) -> None:
    result = caravan("job", "run", "-output", var_job.name, env={"NOMAD_VAR_other": "x"}, cwd=var_job.parent)
    assert result.returncode == 0, result.stderr
    assert image_of(result.stdout) == "redis:from-default"


def test_undeclared_var_flag_is_an_error(var_job: Path) -> None:
    result = caravan("job", "validate", "-var", "tga=x", var_job.name, cwd=var_job.parent)
    assert result.returncode == 1
    assert result.stdout == ""
    assert 'no variable "tga" is declared' in result.stderr


def test_malformed_var_flag_is_an_error(var_job: Path) -> None:
    result = caravan("job", "validate", "-var", "tag", var_job.name, cwd=var_job.parent)
    assert result.returncode == 1
    assert "expected KEY=VALUE" in result.stderr
