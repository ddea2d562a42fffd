"""Mutual TLS: roles from certificates, refused certificates, and the server name check."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from agents.rpc import (
    AuthenticationFailed,
    CallContext,
    ClientAuth,
    ConnectionFailed,
    Registry,
    Role,
    ServerAuth,
    TLSFileError,
    certificate_roles,
    client_context,
    server_context,
)
from cluster.errors import CaravanError, PermissionDenied
from tests.agents.rpc.certs import PKI, CertFiles, make_pki
from tests.agents.rpc.support import (
    KEY,
    OTHER_KEY,
    Echo,
    EchoReply,
    address,
    pool_of,
    raises,
    run,
    serving,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


class Seen(EchoReply, frozen=True):
    region: str = ""
    peer_name: str = ""


def _registry() -> Registry:
    registry = Registry()

    async def whoami(ctx: CallContext, args: Echo) -> Seen:
        return Seen(args.text, "s1", str(ctx.role), ctx.hops, ctx.peer_region, ctx.peer_name)

    registry.add("Test.Whoami", whoami, roles=Role)
    registry.add("Raft.Peers", whoami, roles={Role.SERVER})
    return registry


def _server_auth(pki: PKI, certs: CertFiles | None = None, key: bytes | None = None) -> ServerAuth:
    certs = certs or pki.server
    context = server_context(ca_file=pki.ca_file, cert_file=certs.cert_file, key_file=certs.key_file)
    return ServerAuth(name="s1", region="global", cluster_key=key, tls=context)


def _caller(
    pki: PKI,
    certs: CertFiles,
    role: Role,
    *,
    verify: bool = True,
    key: bytes | None = None,
    region: str = "global",
) -> ClientAuth:
    context = client_context(
        ca_file=pki.ca_file, cert_file=certs.cert_file, key_file=certs.key_file, verify_server_hostname=verify
    )
    return ClientAuth(
        role=role,
        name=f"{role}-1",
        region=region,
        cluster_key=key,
        tls=context,
        verify_server_hostname=verify,
    )


def _call(pki: PKI, auth: ClientAuth, method: str = "Test.Whoami", server: ServerAuth | None = None) -> Seen:
    async def scenario() -> Seen:
        async with serving(_registry(), auth=server or _server_auth(pki)) as srv, pool_of(auth) as pool:
            return await pool.call(address(srv), method, Echo("hi"), Seen)

    return run(scenario())


def _fails(
    pki: PKI, auth: ClientAuth, method: str = "Test.Whoami", server: ServerAuth | None = None
) -> CaravanError:
    with pytest.raises(CaravanError) as info:
        _call(pki, auth, method, server)
    return info.value


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT, Role.WEB])
def test_each_role_is_taken_from_its_certificate(pki: PKI, role: Role) -> None:
    certs = {Role.SERVER: pki.server, Role.CLIENT: pki.client, Role.WEB: pki.web}[role]
    seen = _call(pki, _caller(pki, certs, role))
    assert (seen.role, seen.region, seen.peer_name) == (str(role), "global", f"{role}-1")


def test_an_endpoint_for_servers_refuses_a_client_certificate(pki: PKI) -> None:
    error = _fails(pki, _caller(pki, pki.client, Role.CLIENT), "Raft.Peers")
    assert type(error) is PermissionDenied
    assert "Raft.Peers may not be called by role client" in str(error)
    assert _call(pki, _caller(pki, pki.server, Role.SERVER), "Raft.Peers").role == "server"


def test_a_client_certificate_cannot_claim_the_server_role(pki: PKI) -> None:
    error = _fails(pki, _caller(pki, pki.client, Role.SERVER))
    assert type(error) is AuthenticationFailed
    assert "certificate does not grant the role server (it grants: client)" in str(error)


def test_a_certificate_without_a_role_grants_nothing(pki: PKI) -> None:
    error = _fails(pki, _caller(pki, pki.plain, Role.CLIENT))
    assert type(error) is AuthenticationFailed
    assert "(it grants: none)" in str(error)


def test_a_certificate_from_another_ca_is_refused(pki: PKI) -> None:
    error = _fails(pki, _caller(pki, pki.rogue_client, Role.CLIENT))
    assert type(error) is AuthenticationFailed
    assert "did not accept this caller's certificate" in str(error)


def test_a_caller_without_a_certificate_is_refused(pki: PKI) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.ca_file)
    context.check_hostname = False
    auth = ClientAuth(role=Role.CLIENT, name="anon", region="global", tls=context)
    error = _fails(pki, auth)
    assert type(error) is AuthenticationFailed
    assert "did not accept this caller's certificate" in str(error)


def test_with_verify_server_hostname_a_client_certificate_cannot_pose_as_a_server(pki: PKI) -> None:
    """A server presenting client.global.caravan (a stolen client certificate) is refused by the caller."""
    posing = _server_auth(pki, pki.client)
    error = _fails(pki, _caller(pki, pki.client, Role.CLIENT, verify=True), server=posing)
    assert type(error) is AuthenticationFailed
    assert "TLS refused" in str(error) and "certificate verify failed" in str(error)
    # without the check, any certificate from the CA is accepted (Nomad's behaviour)
    assert _call(pki, _caller(pki, pki.client, Role.CLIENT, verify=False), server=posing).role == "client"


def test_a_server_of_another_region_is_checked_against_that_regions_name(pki: PKI) -> None:
    eu = ServerAuth(
        name="eu-1",
        region="eu",
        tls=server_context(
            ca_file=pki.ca_file, cert_file=pki.eu_server.cert_file, key_file=pki.eu_server.key_file
        ),
    )
    auth = _caller(pki, pki.server, Role.SERVER)

    async def scenario() -> tuple[Seen, CaravanError]:
        async with serving(_registry(), auth=eu) as srv, pool_of(auth) as pool:
            seen = await pool.call(address(srv), "Test.Whoami", Echo("x"), Seen, region="eu")
            async with pool_of(auth) as other:
                wrong = await raises(
                    other.call(address(srv), "Test.Whoami", Echo("x"), Seen), AuthenticationFailed
                )
            assert isinstance(wrong, CaravanError)
            return seen, wrong

    seen, wrong = run(scenario())
    assert seen.role == "server" and seen.region == "global"
    assert "certificate verify failed" in str(wrong)


def test_tls_and_the_cluster_key_together_need_both(pki: PKI) -> None:
    server = _server_auth(pki, key=KEY)
    assert _call(pki, _caller(pki, pki.client, Role.CLIENT, key=KEY), server=server).role == "client"
    error = _fails(pki, _caller(pki, pki.client, Role.CLIENT, key=OTHER_KEY), server=server)
    assert type(error) is AuthenticationFailed


def test_certificate_roles_reads_the_common_name_and_dns_names() -> None:
    peercert = {
        "subject": ((("organizationName", "Acme"),), (("commonName", "server.eu.caravan"),)),
        "subjectAltName": (("DNS", "client.eu.caravan"), ("DNS", "localhost"), ("IP Address", "127.0.0.1")),
    }
    assert certificate_roles(peercert) == {(Role.SERVER, "eu"), (Role.CLIENT, "eu")}
    assert certificate_roles({"subject": ((("commonName", "server.global.nomad"),),)}) == set()


def test_unreadable_tls_files_name_the_file(pki: PKI, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(
        TLSFileError, match=r"tls.ca_file .*nope.pem: cannot load a CA certificate: No such file"
    ):
        server_context(ca_file=missing, cert_file=pki.server.cert_file, key_file=pki.server.key_file)
    with pytest.raises(TLSFileError, match=r"tls.cert_file .*client.pem / tls.key_file .*server-key.pem"):
        server_context(ca_file=pki.ca_file, cert_file=pki.client.cert_file, key_file=pki.server.key_file)


def test_a_tls13_server_refuses_a_tls12_only_caller(pki: PKI) -> None:
    server = ServerAuth(
        name="s1",
        region="global",
        tls=server_context(
            ca_file=pki.ca_file,
            cert_file=pki.server.cert_file,
            key_file=pki.server.key_file,
            min_version="tls13",
        ),
    )
    old = _caller(pki, pki.client, Role.CLIENT)
    assert old.tls is not None
    old.tls.maximum_version = ssl.TLSVersion.TLSv1_2
    error = _fails(pki, old, server=server)
    # OpenSSL answers with an alert (AuthenticationFailed) or just closes (ConnectionFailed, safe to retry)
    assert isinstance(error, AuthenticationFailed | ConnectionFailed)
    assert "TLS refused" in str(error) or "the server ended the TLS handshake" in str(error)
    assert _call(pki, _caller(pki, pki.client, Role.CLIENT), server=server).role == "client"
