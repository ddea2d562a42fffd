"""``caravan server members`` and ``caravan operator raft|snapshot|scheduler`` over the HTTP API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import columns, kv
from cluster.errors import InvalidInput

__all__ = ["register_operator", "register_server"]


def register_server(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="server_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True
    members = sub.add_parser("members", help="List the region's servers")
    members.add_argument("-verbose", action="store_true", help="every tag")
    members.add_argument("-json", action="store_true")
    add_api_flags(members)
    members.set_defaults(func=cmd_members)


def register_operator(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="operator_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    raft = sub.add_parser("raft", help="Raft peers").add_subparsers(dest="raft_command", metavar="<subcommand>",
                                                                     parser_class=type(parser))
    raft.required = True
    peers = raft.add_parser("list-peers", help="List the Raft peers")
    add_api_flags(peers)
    peers.set_defaults(func=cmd_list_peers)
    remove = raft.add_parser("remove-peer", help="Remove a server from the Raft configuration")
    remove.add_argument("-peer-id", dest="peer_id", required=True)
    add_api_flags(remove)
    remove.set_defaults(func=cmd_remove_peer)
    transfer = raft.add_parser("transfer-leadership", help="Hand leadership to another server")
    transfer.add_argument("-peer-id", dest="peer_id", default="")
    add_api_flags(transfer)
    transfer.set_defaults(func=cmd_transfer)

    snap = sub.add_parser("snapshot", help="Save or restore the cluster state").add_subparsers(
        dest="snapshot_command", metavar="<subcommand>", parser_class=type(parser))
    snap.required = True
    save = snap.add_parser("save", help="Save a snapshot of the state to FILE")
    save.add_argument("file", metavar="FILE")
    save.add_argument("-stale", action="store_true", help="let a follower answer")
    add_api_flags(save)
    save.set_defaults(func=cmd_snapshot_save)
    restore = snap.add_parser("restore", help="Restore the state from a snapshot FILE")
    restore.add_argument("file", metavar="FILE")
    add_api_flags(restore)
    restore.set_defaults(func=cmd_snapshot_restore)

    sched = sub.add_parser("scheduler", help="Scheduler configuration").add_subparsers(
        dest="scheduler_command", metavar="<subcommand>", parser_class=type(parser))
    sched.required = True
    get = sched.add_parser("get-config", help="Show the scheduler configuration")
    get.add_argument("-json", action="store_true")
    add_api_flags(get)
    get.set_defaults(func=cmd_scheduler_get)


def cmd_members(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    reply = api.get("/v1/agent/members") or {}
    members = reply.get("Members") or []
    if args.json:
        print(json.dumps(members, indent=4))
        return 0
    leader = api.get("/v1/status/leader") or ""
    rows = []
    for m in members:
        tags = m.get("Tags") or {}
        rpc = f"{m.get('Addr', '')}:{tags.get('port', '')}"
        rows.append([m.get("Name"), m.get("Addr"), m.get("Port"), m.get("Status"), str(rpc == leader).lower(),
                     tags.get("raft_vsn", "3"), tags.get("build", ""), tags.get("dc", ""), tags.get("region", "")])
    print(columns(["Name", "Address", "Port", "Status", "Leader", "Raft Version", "Build", "Datacenter",
                   "Region"], rows))
    return 0


def cmd_list_peers(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    servers = (api.get("/v1/operator/raft/configuration") or {}).get("Servers") or []
    rows = [[s.get("Node"), s.get("ID"), s.get("Address"), "leader" if s.get("Leader") else "follower",
             str(bool(s.get("Voter"))).lower(), s.get("RaftProtocol", "3")] for s in servers]
    print(columns(["Node", "ID", "Address", "State", "Voter", "RaftProtocol"], rows))
    return 0


def cmd_remove_peer(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    api.request("DELETE", "/v1/operator/raft/peer", params={"id": args.peer_id})
    print(f'Removed peer with id "{args.peer_id}"')
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    api.request("PUT", "/v1/operator/raft/transfer-leadership", params={"id": args.peer_id or None})
    print("Leadership transferred" + (f' to "{args.peer_id}"' if args.peer_id else ""))
    return 0


def cmd_snapshot_save(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    data = api.request("GET", "/v1/operator/snapshot", params={"stale": args.stale or None}, timeout_s=300)
    path = Path(args.file)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    print(f"State file written to {path}")
    return 0


def cmd_snapshot_restore(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read snapshot {args.file}: {e.strerror}") from None
    api.request("PUT", "/v1/operator/snapshot", raw_body=data, timeout_s=300)
    print("Snapshot Restored")
    return 0


def cmd_scheduler_get(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    reply: dict[str, Any] = api.get("/v1/operator/scheduler/configuration") or {}
    config = reply.get("SchedulerConfig") or {}
    if args.json:
        print(json.dumps(config, indent=4))
        return 0
    preemption = config.get("PreemptionConfig") or {}
    print(kv([("Scheduler Algorithm", config.get("SchedulerAlgorithm")),
              ("Memory Oversubscription", str(bool(config.get("MemoryOversubscriptionEnabled"))).lower()),
              ("Reject Job Registration", str(bool(config.get("RejectJobRegistration"))).lower()),
              ("Pause Eval Broker", str(bool(config.get("PauseEvalBroker"))).lower()),
              ("Preemption System Scheduler", str(bool(preemption.get("SystemSchedulerEnabled"))).lower()),
              ("Preemption Service Scheduler", str(bool(preemption.get("ServiceSchedulerEnabled"))).lower()),
              ("Preemption Batch Scheduler", str(bool(preemption.get("BatchSchedulerEnabled"))).lower()),
              ("Preemption SysBatch Scheduler", str(bool(preemption.get("SysBatchSchedulerEnabled"))).lower()),
              ("Modify Index", reply.get("Index", ""))]))
    return 0
