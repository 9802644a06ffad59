"""The issuer interface: turn hostnames plus a private key into a certificate and chain."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Union

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class IssueRequest:
    hostnames: tuple[str, ...]  # normalised (punycode, lowercase); the first is the subject CN
    private_key: PrivateKey
    validity_days: int | None = None  # None: the issuer's default
    not_after: datetime | None = None  # set by a local-CA rekey to keep the old expiry


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # intermediates (and root if the CA sends it), leaf excluded
    renewal_window: tuple[datetime, datetime] | None = None  # ACME Renewal Information, when offered


class Issuer(Protocol):
    name: str

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        """Issue synchronously; raise shared.errors.IssuerError on CA failure."""
        ...
