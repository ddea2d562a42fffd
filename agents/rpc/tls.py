"""TLS contexts for RPC from the agent's ``tls`` block files (``ca_file``, ``cert_file``, ``key_file``).

Both sides verify the other against the cluster CA: the server requires a client certificate (mutual
TLS), since the caller's role comes from it. TLS 1.2 is the floor. A file that cannot be read or does not
hold what it should is an ``InvalidInput`` naming the file, raised when the agent starts rather than at the
first connection.
"""

from __future__ import annotations

import ssl

from cluster.errors import InvalidInput

__all__ = ["TLSFileError", "client_context", "server_context"]


class TLSFileError(InvalidInput):
    """A CA, certificate or key file cannot be used; the message names the file."""


_MIN_VERSIONS = {"tls12": ssl.TLSVersion.TLSv1_2, "tls13": ssl.TLSVersion.TLSv1_3}


def server_context(
    *, ca_file: str, cert_file: str, key_file: str, min_version: str = "tls12"
) -> ssl.SSLContext:
    """A server-side context that presents ``cert_file`` and requires a caller certificate from the CA.
    ``min_version`` is the agent's ``tls_min_version``: "tls12" or "tls13"."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(context, ca_file, cert_file, key_file, min_version)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    *, ca_file: str, cert_file: str, key_file: str, verify_server_hostname: bool, min_version: str = "tls12"
) -> ssl.SSLContext:
    """A caller-side context presenting ``cert_file``; the server's certificate must come from the CA.

    With ``verify_server_hostname`` the server's certificate must also name ``server.<region>.caravan``
    (the connection passes that as the server hostname); without it any certificate from the CA is
    accepted, as Nomad does, which lets a stolen client certificate impersonate a server.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(context, ca_file, cert_file, key_file, min_version)
    context.check_hostname = verify_server_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _common(context: ssl.SSLContext, ca_file: str, cert_file: str, key_file: str, min_version: str) -> None:
    assert min_version in _MIN_VERSIONS, f"tls_min_version {min_version!r}: the configuration checks it"
    context.minimum_version = _MIN_VERSIONS[min_version]
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as e:
        raise TLSFileError(f"tls.ca_file {ca_file}: cannot load a CA certificate: {_reason(e)}") from None
    try:
        context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    except (OSError, ssl.SSLError) as e:
        raise TLSFileError(
            f"tls.cert_file {cert_file} / tls.key_file {key_file}: "
            f"cannot load the certificate and key: {_reason(e)}"
        ) from None


def _reason(error: OSError) -> str:
    """The OS's words for a missing or unreadable file, else OpenSSL's."""
    if not isinstance(error, ssl.SSLError) and error.strerror:
        return error.strerror
    return str(error)
