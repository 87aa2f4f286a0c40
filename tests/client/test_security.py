"""TLS, mutual TLS and bearer tokens from the client's side, against a real server.

Certificates are made here with `cryptography`: a CA, a server certificate for
127.0.0.1/localhost and a client certificate, all signed by the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from client_support import copy_model, run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from seqserve.client import TLS, Client, Unauthenticated, Unavailable

TOKEN = "s3cret-token-0123"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class Secured:
    target: str
    certs: Path

    def tls(self, client_cert: bool = True, ca: str = "ca") -> TLS:
        if not client_cert:
            return TLS(ca=self.certs / f"{ca}.pem")
        return TLS(
            ca=self.certs / f"{ca}.pem",
            cert=self.certs / "client.pem",
            key=self.certs / "client.key",
        )

    def cli_flags(self) -> list[str]:
        c = self.certs
        return ["--tls-ca", str(c / "ca.pem"), "--tls-cert", str(c / "client.pem"),
                "--tls-key", str(c / "client.key")]  # fmt: skip


@pytest.fixture(scope="module")
def secured(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory, launch_server: Callable[..., Any]
) -> Iterator[Secured]:
    certs = tmp_path_factory.mktemp("certs")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _write(certs, "ca", _certificate("seqserve test CA", ca_key, None), ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    _write(certs, "other-ca", _certificate("another CA", other_key, None), other_key)
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate("localhost", server_key, ("seqserve test CA", ca_key), sans)
    _write(certs, "server", server_cert, server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _certificate("a client", client_key, ("seqserve test CA", ca_key))
    _write(certs, "client", client_cert, client_key)
    models = tmp_path_factory.mktemp("secured-models")
    copy_model(models_dir, "addition", models, 1)
    server = launch_server(
        models,
        "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
        "--tls-client-ca", str(certs / "ca.pem"), "--auth-tokens", TOKEN,
        wait=False,
    )  # fmt: skip
    secured = Secured(server.target, certs)
    with Client(secured.target, tls=secured.tls(), timeout=5) as probe:
        for _ in range(300):
            try:
                if probe.health().serving:
                    break
            except Unavailable:
                pass
            time.sleep(0.1)
    yield secured
    server.stop()


def test_right_certificates_and_token_pass(secured: Secured, tmp_path: Path) -> None:
    with Client(secured.target, tls=secured.tls(), token=TOKEN) as client:
        assert client.predict("addition", "3+10").text == "13"
        assert [m.name for m in client.models()] == ["addition"]
    flags = secured.cli_flags()
    done = run_cli(secured.target, *flags, "predict", "addition", "3+10", SEQSERVE_TOKEN=TOKEN)
    assert (done.code, done.out) == (0, "13\n"), done.err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    done = run_cli(secured.target, *flags, "--token-file", str(token_file), "models")
    assert done.code == 0 and "addition" in done.out, done.err
    done = run_cli(secured.target, *flags, "--token", TOKEN, "predict", "addition", "1+1")
    assert (done.code, done.out) == (0, "2\n"), done.err


def test_health_needs_no_token(secured: Secured) -> None:
    with Client(secured.target, tls=secured.tls()) as client:
        assert client.health().serving
    assert run_cli(secured.target, *secured.cli_flags(), "health").code == 0


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_unauthenticated(secured: Secured, token: str | None) -> None:
    client = Client(secured.target, tls=secured.tls(), token=token)
    with client, pytest.raises(Unauthenticated) as raised:
        client.predict("addition", "3+10")
    assert token is None or token not in raised.value.message
    env = {"SEQSERVE_TOKEN": token} if token else {}
    done = run_cli(secured.target, *secured.cli_flags(), "predict", "addition", "3+10", **env)
    assert done.code == 10 and done.out == ""
    assert done.err == f"seqserve: error: {raised.value.message}\n"


def test_wrong_ca_or_no_client_certificate_is_refused(secured: Secured) -> None:
    for tls in (secured.tls(ca="other-ca"), secured.tls(client_cert=False)):
        client = Client(secured.target, tls=tls, token=TOKEN, timeout=5)
        with client, pytest.raises(Unavailable):
            client.predict("addition", "3+10")
    plaintext = run_cli(secured.target, "--timeout", "5", "--token", TOKEN, "health")
    assert plaintext.code == 9 and "Traceback" not in plaintext.err
