"""An ACME-like issuer for the service ring: profiles with their own lifetimes, scripted
failures, scripted renewal windows (RFC 9773), and a record of every order. It signs through
the real local CA on the test's clock, so a certificate's notBefore/notAfter follow simulated time."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cryptography import x509

from shared.errors import BadRequest, IssuerError
from shared.issuers.base import IssuedCertificate, IssuerCapabilities, IssueRequest, RenewalInfo
from shared.issuers.local_ca import LocalCA
from shared.ports import SecretStore
from shared.revocation import ACME_REASONS, Reason

ACME_LIKE = IssuerCapabilities(rekey_keeps_not_after=False, max_chain_der_bytes=6144, revocation_reasons=ACME_REASONS)
# Let's Encrypt's profiles as announced for 2026: shortlived is 160 hours.
LETS_ENCRYPT_PROFILES = {
    "classic": timedelta(days=90),
    "tlsserver": timedelta(days=45),
    "shortlived": timedelta(hours=160),
}


@dataclass
class Order:
    hostnames: tuple[str, ...]
    profile: str
    replaces: str
    at: datetime
    failed: bool


@dataclass
class FakeAcmeIssuer:
    vault: SecretStore
    clock: Callable[[], datetime]
    profiles: dict[str, timedelta] = field(default_factory=lambda: dict(LETS_ENCRYPT_PROFILES))
    default_profile: str = ""
    fail_attempts: int = 0  # every issuance fails this many times before it succeeds
    windows: dict[str, RenewalInfo] = field(default_factory=dict)  # renewalInfo answers by ARI id
    orders: list[Order] = field(default_factory=list)
    issued: dict[str, datetime] = field(default_factory=dict)  # thumbprint-free: ARI id -> notAfter
    polls: list[tuple[str, datetime]] = field(default_factory=list)
    revoked: dict[int, Reason] = field(default_factory=dict)  # serial -> reason, as revokeCert recorded it
    refuse_revocations: int = 0  # the next this many revokeCert requests fail (serverInternal)
    name: str = "acme"
    capabilities: IssuerCapabilities = ACME_LIKE
    _failed_in_a_row: int = 0

    def __post_init__(self) -> None:
        self._ca = LocalCA(self.vault, clock=self.clock)

    def check_profile(self, profile: str) -> None:
        if profile not in self.profiles:
            raise BadRequest(f"no profile {profile!r}", code="UnknownProfile")

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        now = self.clock()
        failing = self._failed_in_a_row < self.fail_attempts
        self.orders.append(Order(request.hostnames, request.profile, request.replaces, now, failing))
        if failing:
            self._failed_in_a_row += 1
            raise IssuerError("scripted: the CA answered serverInternal", code="IssuerFailed")
        self._failed_in_a_row = 0
        lifetime = self.profiles[request.profile or "classic"]
        issued = self._ca.issue(replace(request, validity_days=None, not_after=now + lifetime))
        ari_id = f"aki.{issued.certificate.serial_number:x}"
        self.issued[ari_id] = issued.certificate.not_valid_after_utc
        return replace(issued, ari_id=ari_id)

    def renewal_info(self, ari_id: str) -> RenewalInfo | None:
        self.polls.append((ari_id, self.clock()))
        return self.windows.get(ari_id)

    def revoke(self, certificate: x509.Certificate, reason: Reason) -> bool:
        if self.refuse_revocations:
            self.refuse_revocations -= 1
            raise IssuerError("scripted: the CA answered serverInternal to revokeCert", code="IssuerFailed")
        if certificate.serial_number in self.revoked:
            return True  # the CA's alreadyRevoked
        self.revoked[certificate.serial_number] = reason
        return False
