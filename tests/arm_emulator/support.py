"""Helpers for the ARM emulator tests: PFX files to import, raw HTTPS calls, fixed names."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.emulator.support import RawVault

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
LOCAL_VAULT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
)
LOCATION = "westeurope"
PFX = "application/x-pkcs12"


@dataclass(frozen=True)
class TestPfx:
    value: str  # base64 PFX, as certsync stores it in Key Vault
    thumbprint: str


def make_pfx(*names: str, days: int = 30, password: str | None = None) -> TestPfx:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    blob = pkcs12.serialize_key_and_certificates(b"test", key, cert, None, encryption)
    return TestPfx(base64.b64encode(blob).decode("ascii"), cert.fingerprint(hashes.SHA1()).hex().upper())


@dataclass
class RawArm(RawVault):
    """Plain HTTPS calls, for what the SDK hides: status lines, headers, raw error bodies."""

    def call(
        self, method: str, path: str, *, token: bool = True, api_version: str | None = "2025-05-01", **kwargs: Any
    ) -> requests.Response:
        return super().call(method, path, token=token, api_version=api_version, **kwargs)

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in super().counters().items() if v}
