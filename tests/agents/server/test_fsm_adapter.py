"""The server's Raft state machine: what the runtime and the blocking queries rely on."""

from __future__ import annotations

import asyncio

from agents.server.fsm_adapter import Rejected, StateFSM
from cluster import fsm
from cluster.errors import InvalidInput, NotFound
from tests.unit.scheduler import factories


def test_a_refused_command_is_a_result_and_the_index_still_moves() -> None:
    machine = StateFSM()
    node = factories.node(name="n1")
    assert machine.apply(1, fsm.encode_command(fsm.NodeRegister(Node=node))).ID == node.ID  # type: ignore[attr-defined]
    refused = machine.apply(2, fsm.encode_command(fsm.NodeUpdateStatus(NodeID="nobody", Status="down", UpdatedAt=1)))
    assert isinstance(refused, Rejected) and isinstance(refused.error, NotFound)
    garbage = machine.apply(3, b"\x93not a command")
    assert isinstance(garbage, Rejected) and isinstance(garbage.error, InvalidInput)
    assert machine.store.latest_index() == 3
    assert machine.store.snapshot().node_by_id(node.ID) is not None


def test_listeners_see_applied_commands_but_not_refused_ones() -> None:
    machine = StateFSM()
    seen: list[tuple[int, str, list[str]]] = []
    machine.listeners.append(
        lambda index, command, events: seen.append(
            (index, type(command).__name__, [topic for topic, _type, _obj in events.objects()])
        )
    )
    machine.apply(1, fsm.encode_command(fsm.NodeRegister(Node=factories.node(name="n1"))))
    machine.apply(2, fsm.encode_command(fsm.NodeUpdateStatus(NodeID="nobody", Status="down", UpdatedAt=1)))
    assert seen == [(1, "NodeRegister", ["Node"])]


def test_snapshot_restore_round_trip_and_empty_restore() -> None:
    machine = StateFSM()
    node = factories.node(name="n1")
    machine.apply(1, fsm.encode_command(fsm.NodeRegister(Node=node)))
    copy = StateFSM()
    copy.restore(machine.snapshot())
    assert copy.store.snapshot().node_by_id(node.ID) is not None and copy.store.latest_index() == 1
    copy.restore(b"")
    assert copy.store.snapshot().node_by_id(node.ID) is None and copy.store.latest_index() == 0


def test_wait_for_wakes_on_the_change_it_watches_and_times_out_otherwise() -> None:
    async def scenario() -> None:
        machine = StateFSM()
        node = factories.node(name="n1")
        nodes_index = lambda s: s.table_index("nodes")  # noqa: E731
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, index = await machine.wait_for(nodes_index, 0, 0.05)
        assert index == 0 and loop.time() - started >= 0.05
        waiter = asyncio.create_task(machine.wait_for(nodes_index, 0, 5))
        await asyncio.sleep(0)
        assert not waiter.done()
        machine.apply(7, fsm.encode_command(fsm.NodeRegister(Node=node)))
        snap, index = await asyncio.wait_for(waiter, 1)
        assert index == 7 and snap.node_by_id(node.ID) is not None
        assert (await machine.wait_applied(7, 0.01)).latest_index() == 7

    asyncio.run(scenario())
