"""The job diff (what `nomad job plan` shows) between two versions of a job."""

from __future__ import annotations

import msgspec

from cluster.jobspec import parse_hcl
from cluster.jobspec.diff import ADDED, DELETED, EDITED, NONE, JobDiff, diff_jobs, format_diff

BASE = """
job "web" {
  datacenters = ["dc1"]
  meta { owner = "ops" }
  group "frontend" {
    count = 2
    network {
      port "http" { to = 8080 }
    }
    task "nginx" {
      driver = "docker"
      config {
        image = "nginx:1.25"
        ports = ["http"]
      }
      env { MODE = "prod" }
      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
"""


def job(text: str = BASE, **replace: str) -> object:
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_hcl(text).job


def rep(pairs: dict[str, str]) -> object:
    text = BASE
    for old, new in pairs.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_hcl(text).job


def test_identical_jobs_have_no_changes() -> None:
    d = diff_jobs(job(), job())
    assert d.Type == NONE
    assert d.Fields is None and d.Objects is None
    assert [(g.Name, g.Type) for g in d.TaskGroups or []] == [("frontend", NONE)]


def test_count_change_is_an_edited_group_field() -> None:
    d = diff_jobs(job(), rep({"count = 2": "count = 5"}))
    assert d.Type == EDITED
    (group,) = d.TaskGroups or []
    assert group.Type == EDITED
    assert [(f.Type, f.Name, f.Old, f.New) for f in group.Fields or []] == [(EDITED, "Count", "2", "5")]


def test_driver_config_change_is_flattened() -> None:
    d = diff_jobs(job(), rep({"nginx:1.25": "nginx:1.27"}))
    task = (d.TaskGroups or [])[0].Tasks[0]  # type: ignore[index]
    assert task.Type == EDITED
    (config,) = task.Objects or []
    assert config.Name == "Config"
    assert [(f.Type, f.Name, f.Old, f.New) for f in config.Fields or []] == [
        (EDITED, "image", "nginx:1.25", "nginx:1.27")
    ]


def test_map_entries_are_fields_by_key() -> None:
    d = diff_jobs(job(), rep({"meta { owner = \"ops\" }": "meta {\n owner = \"dev\"\n team = \"web\"\n }", "MODE = \"prod\"": ""}))
    assert [(f.Type, f.Name) for f in d.Fields or []] == [(EDITED, "Meta[owner]"), (ADDED, "Meta[team]")]
    task = (d.TaskGroups or [])[0].Tasks[0]  # type: ignore[index]
    assert [(f.Type, f.Name, f.Old) for f in task.Fields or []] == [(DELETED, "Env[MODE]", "prod")]


def test_list_of_strings_shows_added_and_deleted_values() -> None:
    d = diff_jobs(job(), rep({'["dc1"]': '["dc1", "dc2"]'}))
    (obj,) = d.Objects or []
    assert obj.Name == "Datacenters" and obj.Type == EDITED
    assert [(f.Type, f.New) for f in obj.Fields or []] == [(ADDED, "dc2")]


def test_added_constraint_is_an_added_object() -> None:
    new = rep({"group \"frontend\" {": 'group "frontend" {\n constraint {\n attribute = "${attr.kernel.name}"\n value = "linux"\n }'})
    d = diff_jobs(job(), new)
    (group,) = d.TaskGroups or []
    (obj,) = group.Objects or []
    assert (obj.Type, obj.Name) == (ADDED, "Constraint")
    assert {f.Name: f.New for f in obj.Fields or []} == {
        "LTarget": "${attr.kernel.name}", "Operand": "=", "RTarget": "linux"
    }


def test_added_and_removed_task_groups() -> None:
    extra = BASE.replace('group "frontend"', 'group "api" {\n task "a" {\n driver = "raw_exec"\n config { command = "/bin/true" }\n }\n }\n group "frontend"')
    d = diff_jobs(job(), parse_hcl(extra).job)
    assert [(g.Name, g.Type) for g in d.TaskGroups or []] == [("api", ADDED), ("frontend", NONE)]
    d = diff_jobs(parse_hcl(extra).job, job())
    assert [(g.Name, g.Type) for g in d.TaskGroups or []] == [("api", DELETED), ("frontend", NONE)]
    added = (d.TaskGroups or [])[0]
    assert added.Tasks and added.Tasks[0].Type == DELETED


def test_new_job_is_added() -> None:
    d = diff_jobs(None, job())
    assert d.Type == ADDED
    assert any(f.Name == "Priority" and f.New == "50" for f in d.Fields or [])


def test_diff_json_has_nomads_shape() -> None:
    d = diff_jobs(job(), rep({"count = 2": "count = 3"}))
    data = msgspec.to_builtins(d)
    assert set(data) == {"Type", "ID", "Fields", "Objects", "TaskGroups"}
    assert msgspec.convert(data, JobDiff) == d


def test_plan_text() -> None:
    d = diff_jobs(job(), rep({"count = 2": "count = 3", "nginx:1.25": "nginx:1.27"}))
    text = format_diff(d)
    assert text.splitlines() == [
        '+/- Job: "web"',
        '+/- Task Group: "frontend"',
        '  +/- Count: "2" => "3"',
        '  +/- Task: "nginx"',
        "    +/- Config {",
        '      +/- image: "nginx:1.25" => "nginx:1.27"',
        "      }",
    ]


def test_verbose_includes_unchanged_fields() -> None:
    d = diff_jobs(job(), rep({"count = 2": "count = 3"}), contextual=True)
    group = (d.TaskGroups or [])[0]
    assert any((f.Type == NONE and f.Name == "ShutdownDelay") or f.Name == "Count" for f in group.Fields or [])
    assert any(f.Type == NONE for f in group.Fields or [])


def test_plan_text_of_a_new_job_shows_headers_only_unless_verbose() -> None:
    d = diff_jobs(None, job())
    assert format_diff(d).splitlines() == ['+ Job: "web"', '+ Task Group: "frontend"', '  + Task: "nginx"']
    verbose = format_diff(d, verbose=True).splitlines()
    assert verbose[0] == '+ Job: "web"' and any("+ Count:" in line for line in verbose)
