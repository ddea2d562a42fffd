"""Device feasibility: ``device "nvidia/gpu" { count = 1; constraint { ... } }`` against the devices
a node fingerprinted, including attribute constraints with units."""

from __future__ import annotations

import msgspec
import pytest

from cluster.scheduler.devices import device_fits
from cluster.structs.node import DeviceAttribute, Node, NodeDevice, NodeDeviceResource
from cluster.structs.placement import Constraint
from cluster.structs.resources import RequestedDevice
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def gpu_node(healthy: int = 2, unhealthy: int = 0) -> Node:
    node = f.node()
    gpus = NodeDeviceResource(
        Vendor="nvidia", Type="gpu", Name="1080ti",
        Instances=[NodeDevice(ID=f"gpu-{i}", Healthy=i < healthy) for i in range(healthy + unhealthy)],
        Attributes={"memory": DeviceAttribute(Int=11, Unit="GiB"), "cuda_cores": DeviceAttribute(Int=3584),
                    "clock": DeviceAttribute(Float=1.5, Unit="GHz")})
    assert node.NodeResources is not None
    node.NodeResources = msgspec.structs.replace(node.NodeResources, Devices=[gpus])
    return node


def ask(name: str, count: int = 1, *constraints: tuple[str, str, str]) -> RequestedDevice:
    return RequestedDevice(Name=name, Count=count,
                           Constraints=[Constraint(LTarget=lt, Operand=op, RTarget=rt) for lt, op, rt in constraints]
                           or None)


@pytest.mark.parametrize(("requests", "fits"), [
    ([ask("gpu")], True),
    ([ask("nvidia/gpu", 2)], True),
    ([ask("nvidia/gpu/1080ti")], True),
    ([ask("nvidia/gpu", 3)], False),
    ([ask("amd/gpu")], False),
    ([ask("nvidia/fpga")], False),
    ([ask("gpu"), ask("gpu")], True),  # two requests share the group's two instances
    ([ask("gpu"), ask("gpu", 2)], False),
    ([ask("gpu", 1, ("${device.attr.memory}", ">=", "4 GiB"))], True),
    ([ask("gpu", 1, ("${device.attr.memory}", ">=", "12 GiB"))], False),
    ([ask("gpu", 1, ("${device.attr.memory}", ">=", "11264 MiB"))], True),  # 11 GiB exactly
    ([ask("gpu", 1, ("${device.attr.memory}", ">", "11264 MiB"))], False),
    ([ask("gpu", 1, ("${device.attr.clock}", ">=", "1400 MHz"))], True),
    ([ask("gpu", 1, ("${device.attr.clock}", ">=", "1 GiB"))], False),  # hertz against bytes
    ([ask("gpu", 1, ("${device.attr.cuda_cores}", ">", "3000"))], True),
    ([ask("gpu", 1, ("${device.model}", "=", "1080ti"), ("${device.vendor}", "=", "nvidia"))], True),
    ([ask("gpu", 1, ("${device.model}", "regexp", "^2080"))], False),
    ([ask("gpu", 1, ("${device.attr.ecc}", "is_set", ""))], False),
])
def test_device_requests_against_a_node_with_two_gpus(requests: list[RequestedDevice], fits: bool) -> None:
    assert device_fits(gpu_node(), requests) is fits


def test_unhealthy_instances_do_not_count() -> None:
    assert device_fits(gpu_node(healthy=1, unhealthy=3), [ask("gpu", 1)])
    assert not device_fits(gpu_node(healthy=1, unhealthy=3), [ask("gpu", 2)])


def test_the_scheduler_places_a_gpu_job_only_where_a_matching_gpu_is() -> None:
    h = Harness()
    h.add_nodes(3)
    gpu = h.add_node(gpu_node())
    job = f.job("train", count=1)
    task = (job.TaskGroups or [])[0].Tasks[0]  # type: ignore[index]
    assert task.Resources is not None
    task.Resources.Devices = [ask("nvidia/gpu", 1, ("${device.attr.memory}", ">=", "8 GiB"))]
    h.run(job)
    assert [a.NodeID for a in h.live_allocs("train")] == [gpu.ID]
    greedy = f.job("greedy", count=1)
    greedy_task = (greedy.TaskGroups or [])[0].Tasks[0]  # type: ignore[index]
    assert greedy_task.Resources is not None
    greedy_task.Resources.Devices = [ask("nvidia/gpu", 1, ("${device.attr.memory}", ">=", "16 GiB"))]
    h.run(greedy)
    assert h.live_allocs("greedy") == []
