"""/v1/jobs/parse and /v1/validate/job: job files through Nomad's HTTP API."""

from __future__ import annotations

import json

from django.test import Client

EXAMPLE = """
job "example" {
  datacenters = ["dc1"]
  group "cache" {
    network {
      port "db" { to = 6379 }
    }
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["db"]
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"""


def post(path: str, body: object) -> tuple[int, bytes]:
    response = Client().post(path, data=json.dumps(body), content_type="application/json")
    return response.status_code, response.content


def test_parse_returns_the_canonical_job() -> None:
    status, body = post("/v1/jobs/parse", {"JobHCL": EXAMPLE, "Canonicalize": True})
    assert status == 200
    job = json.loads(body)
    assert job["ID"] == "example" and job["Type"] == "service" and job["Priority"] == 50
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["Resources"]["MemoryMB"] == 256
    assert task["KillTimeout"] == 5_000_000_000
    assert job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["Label"] == "db"


def test_parse_takes_variables_as_hcl() -> None:
    src = 'variable "image" { type = string }\n' + EXAMPLE.replace('"redis:7"', "var.image")
    status, body = post("/v1/jobs/parse", {"JobHCL": src, "Variables": 'image = "redis:6"'})
    assert status == 200, body
    assert json.loads(body)["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "redis:6"


def test_parse_error_is_400_with_the_position() -> None:
    status, body = post("/v1/jobs/parse", {"JobHCL": EXAMPLE.replace("memory = 256", 'memory = "lots"')})
    assert status == 400
    assert body.decode() == (
        'JobHCL: line 16, column 18: job.group[cache].task[redis].resources.memory: '
        'expected a whole number, got "lots"'
    )


def test_parse_rejects_a_malformed_request() -> None:
    assert post("/v1/jobs/parse", {"JobHCL": 3})[0] == 400
    response = Client().post("/v1/jobs/parse", data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert b"not valid JSON" in response.content
    assert Client().get("/v1/jobs/parse").status_code == 405


def test_validate_accepts_a_good_job() -> None:
    job = json.loads(post("/v1/jobs/parse", {"JobHCL": EXAMPLE})[1])
    status, body = post("/v1/validate/job", {"Job": job})
    assert status == 200
    assert json.loads(body)["ValidationErrors"] == []


def test_validate_lists_every_problem() -> None:
    job = json.loads(post("/v1/jobs/parse", {"JobHCL": EXAMPLE})[1])
    job["Priority"] = 500
    job["TaskGroups"][0]["Count"] = -2
    status, body = post("/v1/validate/job", {"Job": job})
    assert status == 200
    errors = json.loads(body)["ValidationErrors"]
    assert any("job.priority" in e and "between 1 and 100" in e for e in errors)
    assert any("job.group[cache].count" in e for e in errors)


def test_validate_reports_a_wrong_type_with_its_json_path() -> None:
    status, body = post("/v1/validate/job", {"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": "two"}]}})
    assert status == 200
    (error,) = json.loads(body)["ValidationErrors"]
    assert "Job.TaskGroups[0].Count" in error
