"""Decoder rules that reshape what the file says into Nomad's API job (jobspec2's normalizations)."""

from __future__ import annotations

from cluster.jobspec import parse_hcl

JOB = """
job "secrets" {
  vault { policies = ["job-wide"] }
  group "a" {
    vault { policies = ["group-a"] }
    task "one" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
    task "two" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      vault { policies = ["own"] }
    }
  }
  group "b" {
    task "three" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      identity {
        env  = true
        file = true
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
        ttl  = "1h"
      }
    }
  }
}
"""


def test_vault_blocks_flow_down_to_tasks_without_their_own() -> None:
    job = parse_hcl(JOB).job
    policies = {t.Name: t.Vault.Policies for g in job.TaskGroups or [] for t in g.Tasks or [] if t.Vault}
    assert policies == {"one": ["group-a"], "two": ["own"], "three": ["job-wide"]}


def test_identity_blocks_default_and_named() -> None:
    task = (parse_hcl(JOB).job.TaskGroups or [])[1].Tasks[0]  # type: ignore[index]
    assert task.Identity is not None
    assert (task.Identity.Name, task.Identity.Env, task.Identity.File) == ("default", True, True)
    (named,) = task.Identities or []
    assert (named.Name, named.Audience, named.TTL) == ("vault_default", ["vault.io"], 3600 * 10**9)


def test_two_unnamed_identities_are_an_error() -> None:
    import pytest

    from cluster.errors import JobSpecError

    source = JOB.replace('name = "vault_default"', "")
    with pytest.raises(JobSpecError) as err:
        parse_hcl(source)
    (diag,) = err.value.diagnostics
    assert diag.path == "job.group[b].task[three].identity[1]"
    assert diag.line == source.splitlines().index("      identity {", source.splitlines().index("      identity {") + 1) + 1
    assert "only one identity block may omit name" in diag.message
