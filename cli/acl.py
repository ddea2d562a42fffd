"""``caravan acl bootstrap|token|policy`` over the HTTP API, as Nomad's CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import columns, kv
from cluster.errors import InvalidInput

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="acl_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True
    boot = sub.add_parser("bootstrap", help="Create the first management token (once)")
    boot.add_argument("-json", action="store_true")
    add_api_flags(boot)
    boot.set_defaults(func=cmd_bootstrap)

    token = sub.add_parser("token", help="Manage tokens").add_subparsers(
        dest="token_command", metavar="<subcommand>", parser_class=type(parser))
    token.required = True
    create = token.add_parser("create", help="Create a token (its secret is shown once)")
    create.add_argument("-name", default="")
    create.add_argument("-type", default="client", choices=["client", "management"])
    create.add_argument("-policy", action="append", default=[], help="a policy name (repeatable)")
    create.add_argument("-global", dest="global_", action="store_true")
    create.add_argument("-ttl", default="", help="expire after this long (e.g. 8h)")
    create.add_argument("-json", action="store_true")
    add_api_flags(create)
    create.set_defaults(func=cmd_token_create)
    listing = token.add_parser("list", help="List tokens (management)")
    listing.add_argument("-json", action="store_true")
    add_api_flags(listing)
    listing.set_defaults(func=cmd_token_list)
    for verb in ("delete", "revoke"):
        delete = token.add_parser(verb, help="Revoke a token by its accessor id")
        delete.add_argument("accessor", metavar="ACCESSOR_ID")
        add_api_flags(delete)
        delete.set_defaults(func=cmd_token_delete)
    info = token.add_parser("info", help="Show a token by accessor id")
    info.add_argument("accessor", metavar="ACCESSOR_ID")
    info.add_argument("-json", action="store_true")
    add_api_flags(info)
    info.set_defaults(func=cmd_token_info)
    me = token.add_parser("self", help="Show the token in use")
    me.add_argument("-json", action="store_true")
    add_api_flags(me)
    me.set_defaults(func=cmd_token_self)

    policy = sub.add_parser("policy", help="Manage policies").add_subparsers(
        dest="policy_command", metavar="<subcommand>", parser_class=type(parser))
    policy.required = True
    apply = policy.add_parser("apply", help="Create or replace a policy from a rules file")
    apply.add_argument("-description", default="")
    apply.add_argument("name", metavar="NAME")
    apply.add_argument("file", metavar="FILE", help='rules (HCL or JSON); "-" reads standard input')
    add_api_flags(apply)
    apply.set_defaults(func=cmd_policy_apply)
    plist = policy.add_parser("list", help="List policies")
    plist.add_argument("-json", action="store_true")
    add_api_flags(plist)
    plist.set_defaults(func=cmd_policy_list)
    pinfo = policy.add_parser("info", help="Show a policy")
    pinfo.add_argument("name", metavar="NAME")
    add_api_flags(pinfo)
    pinfo.set_defaults(func=cmd_policy_info)
    pdel = policy.add_parser("delete", help="Delete a policy")
    pdel.add_argument("name", metavar="NAME")
    add_api_flags(pdel)
    pdel.set_defaults(func=cmd_policy_delete)


def format_token(t: dict[str, Any]) -> str:
    policies = ", ".join(t.get("Policies") or []) or "n/a"
    return kv([("Accessor ID", t.get("AccessorID")), ("Secret ID", t.get("SecretID") or "<shown once, at creation>"),
               ("Name", t.get("Name")), ("Type", t.get("Type")), ("Global", str(bool(t.get("Global"))).lower()),
               ("Create Time", t.get("CreateTime")), ("Expiry Time", t.get("ExpirationTime")),
               ("Create Index", t.get("CreateIndex")), ("Modify Index", t.get("ModifyIndex")),
               ("Policies", policies), ("Roles", "n/a")])


def _show(args: argparse.Namespace, data: Any, text: str) -> int:
    print(json.dumps(data, indent=4) if getattr(args, "json", False) else text)
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    token = Api.from_args(args).post("/v1/acl/bootstrap")
    return _show(args, token, format_token(token))


def cmd_token_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"Name": args.name, "Type": args.type, "Policies": args.policy, "Global": args.global_}
    if args.ttl:
        body["ExpirationTTL"] = args.ttl
    token = Api.from_args(args).post("/v1/acl/token", body)
    return _show(args, token, format_token(token))


def cmd_token_list(args: argparse.Namespace) -> int:
    tokens = Api.from_args(args).get("/v1/acl/tokens") or []
    rows = [[t.get("Name"), t.get("Type"), t.get("AccessorID"), str(bool(t.get("Global"))).lower(),
             t.get("ExpirationTime") or "never"] for t in tokens]
    return _show(args, tokens, columns(["Name", "Type", "Accessor ID", "Global", "Expires"], rows))


def cmd_token_delete(args: argparse.Namespace) -> int:
    Api.from_args(args).delete(f"/v1/acl/token/{args.accessor}")
    print(f"Token {args.accessor} successfully deleted")
    return 0


def cmd_token_info(args: argparse.Namespace) -> int:
    token = Api.from_args(args).get(f"/v1/acl/token/{args.accessor}")
    return _show(args, token, format_token(token))


def cmd_token_self(args: argparse.Namespace) -> int:
    token = Api.from_args(args).get("/v1/acl/token/self")
    return _show(args, token, format_token(token))


def cmd_policy_apply(args: argparse.Namespace) -> int:
    if args.file == "-":
        rules = sys.stdin.read()
    else:
        try:
            rules = Path(args.file).read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"cannot read policy file {args.file}: {e.strerror}") from None
    Api.from_args(args).post(f"/v1/acl/policy/{args.name}",
                             {"Name": args.name, "Description": args.description, "Rules": rules})
    print(f'Successfully wrote "{args.name}" ACL policy!')
    return 0


def cmd_policy_list(args: argparse.Namespace) -> int:
    policies = Api.from_args(args).get("/v1/acl/policies") or []
    rows = [[p.get("Name"), p.get("Description")] for p in policies]
    return _show(args, policies, columns(["Name", "Description"], rows) if rows else "No policies found")


def cmd_policy_info(args: argparse.Namespace) -> int:
    p = Api.from_args(args).get(f"/v1/acl/policy/{args.name}")
    print(kv([("Name", p.get("Name")), ("Description", p.get("Description")),
              ("Create Index", p.get("CreateIndex")), ("Modify Index", p.get("ModifyIndex"))]))
    print("\nRules\n\n" + (p.get("Rules") or ""))
    return 0


def cmd_policy_delete(args: argparse.Namespace) -> int:
    Api.from_args(args).delete(f"/v1/acl/policy/{args.name}")
    print(f'Successfully deleted "{args.name}" ACL policy!')
    return 0
