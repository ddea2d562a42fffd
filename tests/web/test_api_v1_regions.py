"""``?region=`` through the /v1 API: a real `caravan web` process whose gateway reaches only region east's
server, and a federated region west (real server processes, as in ``tests.agents.server.test_federation``).

What a Nomad user notices, with the `python-nomad` package and plain HTTP: both regions are listed; a job
registered with ``?region=west`` lives in west (east answers 404 for it) and reads back with the same
parameter; members show the servers of both regions; another region's Raft configuration comes back with
Nomad's query meta headers; a region nobody knows is "No path to region".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nomad
import pytest
import requests

from tests.agents.server.test_federation import Regions
from tests.web.test_api_v1_nomad import job, start_web

pytestmark = pytest.mark.slow


@dataclass
class Federated:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, region: str | None = None) -> nomad.Nomad:
        return nomad.Nomad(host="127.0.0.1", port=self.port, timeout=10, region=region)


@pytest.fixture(scope="module")
def federated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federated]:
    root = tmp_path_factory.mktemp("regions")
    regions = Regions(root)
    regions.start()
    proc = None
    try:
        proc, port, _ = start_web(root, regions.east[0].address, "0")
        fed = Federated(port)
        deadline = time.monotonic() + 30
        while fed.client().regions.get_regions() != ["east", "west"]:
            assert time.monotonic() < deadline, "east did not learn region west in 30 s:\n" + regions.logs()
            time.sleep(0.2)
        for region in ("west", "east"):  # each region takes writes and answers reads once it has a leader
            while not fed.client(region=region).status.leader.get_leader():
                assert time.monotonic() < deadline, f"region {region} elected no leader in 30 s:\n" + regions.logs()
                time.sleep(0.2)
        yield fed
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        regions.stop()


def west_job(job_id: str) -> dict[str, Any]:
    body = job(job_id)
    body["Job"]["Region"] = "west"
    return body


def test_regions_lists_both(federated: Federated) -> None:
    assert requests.get(f"{federated.url}/regions", timeout=10).json() == ["east", "west"]
    assert federated.client(region="west").regions.get_regions() == ["east", "west"]


def test_a_job_registered_for_west_lives_in_west_and_reads_back_with_the_region(federated: Federated) -> None:
    west, east = federated.client(region="west"), federated.client()
    reply = west.jobs.register_job(west_job("regional"))
    assert reply["JobModifyIndex"] > 0
    assert west.job.get_job("regional")["Region"] == "west"
    assert "regional" in west.job
    assert "regional" not in east.job  # east's own state does not hold it
    answer = requests.get(f"{federated.url}/job/regional", params={"region": "west"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["Region"] == "west"
    assert requests.get(f"{federated.url}/job/regional", timeout=10).status_code == 404


def test_members_show_the_servers_of_both_regions(federated: Federated) -> None:
    members = federated.client().agent.get_members()["Members"]
    assert {(m["Name"], m["Tags"]["region"], m["Status"]) for m in members} == {
        ("east-1.east", "east", "alive"), ("west-1.west", "west", "alive")}


def test_another_regions_raft_configuration_carries_the_query_meta(federated: Federated) -> None:
    answer = requests.get(f"{federated.url}/operator/raft/configuration", params={"region": "west"}, timeout=10)
    assert answer.status_code == 200
    assert [s["ID"] for s in answer.json()["Servers"]] == ["west-1"]
    assert answer.headers["X-Nomad-KnownLeader"] == "true"
    assert answer.headers["X-Nomad-LastContact"] == "0"  # the leader answered


def test_a_region_nobody_knows_has_no_path(federated: Federated) -> None:
    answer = requests.get(f"{federated.url}/job/regional", params={"region": "mars"}, timeout=10)
    assert answer.status_code >= 500
    assert "no path to region" in answer.text.lower()
