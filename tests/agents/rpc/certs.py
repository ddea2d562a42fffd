"""A throw-away PKI for the TLS tests: a cluster CA, role certificates, and a rogue CA's certificate.

Elliptic-curve keys keep generation to a few milliseconds per certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
_END = datetime.datetime(2124, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class CertFiles:
    cert_file: str
    key_file: str


@dataclass(frozen=True)
class PKI:
    ca_file: str
    server: CertFiles  # server.global.caravan, localhost, 127.0.0.1
    client: CertFiles  # client.global.caravan
    web: CertFiles  # web.global.caravan
    eu_server: CertFiles  # server.eu.caravan
    plain: CertFiles  # CN "operator": no role at all
    rogue_client: CertFiles  # client.global.caravan, signed by another CA


class _CA:
    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.name = subject
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_START)
            .not_valid_after(_END)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, folder: Path, stem: str, common_name: str, dns: list[str], ips: list[str]) -> CertFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_START)
            .not_valid_after(_END)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file, key_file = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return CertFiles(str(cert_file), str(key_file))


def make_pki(folder: Path) -> PKI:
    ca, rogue = _CA("Caravan test CA"), _CA("Rogue CA")
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    return PKI(
        ca_file=str(ca_file),
        server=ca.issue(
            folder, "server", "server.global.caravan", ["server.global.caravan", "localhost"], ["127.0.0.1"]
        ),
        client=ca.issue(folder, "client", "client.global.caravan", ["client.global.caravan"], []),
        web=ca.issue(folder, "web", "web.global.caravan", ["web.global.caravan"], []),
        eu_server=ca.issue(folder, "eu-server", "server.eu.caravan", ["server.eu.caravan"], ["127.0.0.1"]),
        plain=ca.issue(folder, "plain", "operator", [], []),
        rogue_client=rogue.issue(folder, "rogue", "client.global.caravan", ["client.global.caravan"], []),
    )
