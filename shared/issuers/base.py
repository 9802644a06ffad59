"""The issuer interface: sign a CSR for hostnames, say what the issuer can do.

An issuer never sees a private key: the CSR carries the public key and proves possession.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509

from shared.pki import PrivateKey, build_csr

__all__ = ["IssueRequest", "IssuedCertificate", "Issuer", "IssuerCapabilities", "PrivateKey"]


@dataclass(frozen=True)
class IssueRequest:
    hostnames: tuple[str, ...]  # normalised (punycode, lowercase); the first is the subject CN
    csr: x509.CertificateSigningRequest  # signed by the certificate's key, SAN = hostnames
    validity_days: int | None = None  # None: the issuer's default
    not_after: datetime | None = None  # a rekey's old expiry; only for issuers with rekey_keeps_not_after

    @classmethod
    def for_key(
        cls,
        *,
        hostnames: tuple[str, ...],
        private_key: PrivateKey,
        validity_days: int | None = None,
        not_after: datetime | None = None,
    ) -> IssueRequest:
        """The request for a key the caller holds: the key signs the CSR and stays with the caller."""
        return cls(hostnames, build_csr(private_key, hostnames), validity_days, not_after)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # intermediates (and root if the CA sends it), leaf excluded
    renewal_window: tuple[datetime, datetime] | None = None  # ACME Renewal Information, when offered


@dataclass(frozen=True)
class IssuerCapabilities:
    """What callers may count on, so no caller checks an issuer's name."""

    rekey_keeps_not_after: bool  # honours IssueRequest.not_after (a rekey keeps the old expiry)
    max_chain_der_bytes: int  # upper bound of the DER chain it returns (the Key Vault size check)


class Issuer(Protocol):
    name: str
    capabilities: IssuerCapabilities

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        """Issue synchronously; raise shared.errors.IssuerError on CA failure."""
        ...
