"""What the pages compute before rendering (no server needed): status bars, resource use, the words of a
placement failure, and the job search's filter expression."""

from __future__ import annotations

import pytest

from cluster.filter import compile_filter
from cluster.state.summaries import JobSummary, TaskGroupSummary
from cluster.structs.alloc import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedTaskResources,
    Allocation,
    AllocMetric,
)
from cluster.structs.node import NodeReservedCpuResources, NodeReservedResources
from tests.unit.scheduler import factories
from webui.ui import present
from webui.ui.selectors_jobs import search_filter


def test_counts_bar_has_a_segment_per_status_present_in_a_fixed_order() -> None:
    bar = present.counts_bar({"failed": 1, "running": 2, "unknown": 1, "lost": 0})
    assert [(s.status, s.count, s.percent) for s in bar.segments] == [
        ("running", 2, 50.0),
        ("failed", 1, 25.0),
        ("unknown", 1, 25.0),
    ]
    assert bar.total == 4 and bar.count("failed") == 1 and bar.count("lost") == 0
    assert present.counts_bar({}).segments == []


def test_summary_bar_adds_up_groups_and_shows_queued_and_starting() -> None:
    summary = JobSummary(
        JobID="j",
        Namespace="default",
        Summary={"a": TaskGroupSummary(Queued=1, Running=2), "b": TaskGroupSummary(Starting=1, Lost=1)},
    )
    counts = present.summary_counts(summary)
    assert counts["a"]["queued"] == 1 and counts["b"]["pending"] == 1 and counts["b"]["lost"] == 1
    bar = present.summary_bar(summary)
    assert [(s.status, s.count) for s in bar.segments] == [
        ("queued", 1),
        ("pending", 1),
        ("running", 2),
        ("lost", 1),
    ]
    assert present.summary_bar(None).total == 0


def _alloc(cpu: int, memory_mb: int, client_status: str = "running") -> Allocation:
    task = AllocatedTaskResources(
        Cpu=AllocatedCpuResources(CpuShares=cpu), Memory=AllocatedMemoryResources(MemoryMB=memory_mb)
    )
    return Allocation(
        ID=factories.new_id(),
        DesiredStatus="run",
        ClientStatus=client_status,
        AllocatedResources=AllocatedResources(Tasks={"t": task}),
    )


def test_node_usage_counts_live_allocations_against_unreserved_capacity() -> None:
    node = factories.node(cpu=4000, memory_mb=8192)
    node.ReservedResources = NodeReservedResources(Cpu=NodeReservedCpuResources(CpuShares=1000))
    usage = present.node_usage(node, [_alloc(1500, 1024), _alloc(500, 512, "complete")])
    assert (usage.cpu_used, usage.cpu_total, usage.memory_used, usage.memory_total) == (
        1500,
        3000,
        1024,
        8192,
    )
    assert usage.cpu_percent == 50.0 and usage.memory_percent == 12.5


def test_failure_lines_name_filters_and_exhausted_dimensions() -> None:
    metric = AllocMetric(
        NodesEvaluated=3,
        NodesFiltered=1,
        NodesExhausted=2,
        ConstraintFiltered={"${attr.kernel.name} = windows": 1},
        DimensionExhausted={"memory": 2},
        NodesAvailable={"dc1": 3, "dc2": 0},
    )
    lines = present.failure_lines(metric)
    assert lines[0] == "3 nodes evaluated"
    assert 'Constraint "${attr.kernel.name} = windows": 1 nodes excluded by filter' in lines
    assert 'Dimension "memory" exhausted on 2 nodes' in lines
    assert 'No nodes were eligible in datacenter "dc2"' in lines


@pytest.mark.parametrize("text", ["web", 'a"b', "back\\slash", "  spaced  ", '" or ID contains "'])
def test_search_filter_is_one_well_formed_expression(text: str) -> None:
    flt = compile_filter(search_filter(text))
    needle = text.strip()
    assert flt.matches({"ID": f"x{needle}y", "Name": ""}) and flt.matches({"ID": "", "Name": needle})
    assert not flt.matches({"ID": "other", "Name": "other"})
    assert search_filter("   ") == ""
