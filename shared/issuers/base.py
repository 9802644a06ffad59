"""The issuer interface: sign a CSR for hostnames, say what the issuer can do.

An issuer never sees a private key: the CSR carries the public key and proves possession.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509

from shared.pki import PrivateKey, build_csr
from shared.revocation import Reason

__all__ = ["IssueRequest", "IssuedCertificate", "Issuer", "IssuerCapabilities", "PrivateKey", "RenewalInfo"]


@dataclass(frozen=True)
class IssueRequest:
    hostnames: tuple[str, ...]  # normalised (punycode, lowercase); the first is the subject CN
    csr: x509.CertificateSigningRequest  # signed by the certificate's key, SAN = hostnames
    validity_days: int | None = None  # None: the issuer's default
    not_after: datetime | None = None  # a rekey's old expiry; only for issuers with rekey_keeps_not_after
    profile: str = ""  # the CA profile to order under ("" = the CA's default)
    replaces: str = ""  # RFC 9773 identifier of the certificate this one replaces (a renewal)

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
    ari_id: str = ""  # the RFC 9773 identifier to poll renewalInfo with ("" when the CA offers no ARI)


@dataclass(frozen=True)
class RenewalInfo:
    """One renewalInfo answer: the suggested window, and how long to wait before asking again."""

    window: tuple[datetime, datetime]
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class IssuerCapabilities:
    """What callers may count on, so no caller checks an issuer's name."""

    rekey_keeps_not_after: bool  # honours IssueRequest.not_after (a rekey keeps the old expiry)
    max_chain_der_bytes: int  # upper bound of the DER chain it returns (the Key Vault size check)
    revocation_reasons: frozenset[Reason] = frozenset()  # the reasons its revoke accepts


class Issuer(Protocol):
    name: str
    capabilities: IssuerCapabilities
    default_profile: str  # the profile of certificates that name none ("" = the CA's default)

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        """Issue synchronously; raise shared.errors.IssuerError on CA failure."""
        ...

    def check_profile(self, profile: str) -> None:
        """Raise BadRequest (UnknownProfile) unless the CA offers this profile."""
        ...

    def renewal_info(self, ari_id: str) -> RenewalInfo | None:
        """The CA's current renewal advice for a certificate it issued, None when it gives none."""
        ...

    def revoke(self, certificate: x509.Certificate, reason: Reason) -> bool:
        """Have the CA revoke a certificate it issued; True when it was revoked already (so a
        second revoke is an answer, not a failure). IssuerError when the CA refuses."""
        ...
