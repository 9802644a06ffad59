"""ACME (RFC 8555) issuer: DNS-01 through a DnsProvider, the account key kept in Key Vault.

The CA decides certificate lifetime, so IssueRequest.validity_days and not_after are ignored;
a profile (draft-aaron-acme-profiles) is how a certificate asks for a kind of lifetime, checked
against the directory's meta.profiles. When the CA offers ACME Renewal Information (RFC 9773),
its suggested renewal window comes back in IssuedCertificate.renewal_window, renewal_info()
polls it, and a renewal's newOrder names the certificate it `replaces`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import josepy as jose
import requests
from acme import challenges, messages
from acme import errors as acme_errors
from acme.client import ClientNetwork, ClientV2
from azure.identity import DefaultAzureCredential
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from shared.clock import utcnow
from shared.credentials import EmulatorCredential
from shared.dependencies import ACME, requests_hook
from shared.dns.azure_dns import AzureDnsProvider, ZoneScope, dns_client_factory
from shared.dns.base import DnsProvider, absolute_name
from shared.errors import BadRequest, CertsyncError, IssuerError, NotFound
from shared.issuers.base import IssuedCertificate, IssuerCapabilities, IssueRequest, PrivateKey, RenewalInfo
from shared.pki import (
    KeyType,
    certificates_from_pem,
    generate_private_key,
    order_chain,
    private_key_from_pem,
    private_key_to_pem,
    public_key_matches,
    serial_hex,
)
from shared.revocation import ACME_REASONS, Reason, reason_code
from shared.settings import Settings
from shared.vault import SecretVersion

log = logging.getLogger(__name__)

DEFAULT_ORDER_TIMEOUT = 300.0  # seconds for one order, from newOrder to certificate download
DEFAULT_POLL_INTERVAL = 1.0  # longest wait between polls when the CA sends no Retry-After
# First wait before polling again without Retry-After; it doubles up to the poll interval. A CA
# often validates in well under a second (Pebble: tens of ms), so a fixed 1 s wait made a
# ~0.1 s issuance take ~1.1 s whenever the first poll came a moment too early.
FIRST_POLL_DELAY = 0.1
DEFAULT_NETWORK_TIMEOUT = 30  # seconds for one HTTP request to the CA
AZURE_DNS_PROPAGATION_SECONDS = 30.0  # Azure DNS name servers pick up changes within about a minute
ACCOUNT_SECRET_PREFIX = "certsync-acme-account-"
USER_AGENT = "certsync"


class SecretStore(Protocol):
    """The two shared.vault.Vault methods the issuer needs; tests pass an in-memory fake."""

    def get_secret(self, name: str) -> SecretVersion: ...

    def set_secret(
        self, name: str, value: str, *, content_type: str | None = None, tags: dict[str, str] | None = None
    ) -> SecretVersion: ...


@dataclass(frozen=True)
class ExternalAccountBinding:
    """EAB credentials that CAs such as ZeroSSL hand out; the HMAC key is base64url and secret."""

    kid: str
    hmac_key: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.kid or not self.hmac_key:
            raise ValueError("External Account Binding needs both a key id and an HMAC key")
        try:
            jose.b64decode(self.hmac_key)
        except (binascii.Error, ValueError):
            raise ValueError("the External Account Binding HMAC key is not base64url") from None


# ---- pure decisions -------------------------------------------------------------------------


def account_secret_name(directory_url: str) -> str:
    """One account per CA directory, so the secret name carries a short hash of the URL."""
    digest = hashlib.sha256(directory_url.strip().rstrip("/").encode("utf-8")).hexdigest()
    return ACCOUNT_SECRET_PREFIX + digest[:16]


def ari_cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial as DER)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    if not aki:
        raise ValueError("the certificate has no Authority Key Identifier, so it has no ARI identifier")
    serial = cert.serial_number
    # DER INTEGER content bytes: big-endian and minimal, with a leading 0x00 when the top bit is set.
    serial_der = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return f"{_b64url(aki)}.{_b64url(serial_der)}"


def parse_renewal_window(body: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The suggestedWindow of an ARI response as aware UTC datetimes; refuses an empty window."""
    try:
        window = messages.RenewalInfo.from_json(dict(body)).suggested_window
    except jose.DeserializationError as err:
        raise ValueError(f"malformed renewal information: {err}") from None
    start, end = window.start, window.end
    if start is None or end is None:
        raise ValueError("renewal information lacks suggestedWindow start or end")
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        raise ValueError(f"renewal window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return start, end


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if absent or bad."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    now = now or utcnow()
    return max(0.0, (_as_utc(when) - now).total_seconds())


def poll_delay(polls_so_far: int, retry_after: float | None, poll_interval: float) -> float:
    """Seconds before the next poll of an order: the CA's Retry-After when it asks for a wait,
    else FIRST_POLL_DELAY doubled per poll already made, never more than poll_interval."""
    if retry_after:  # a Retry-After of 0 would have us poll in a tight loop: treated as absent
        return retry_after
    return min(poll_interval, FIRST_POLL_DELAY * 2 ** min(polls_so_far, 16))


def problem_text(problem: messages.Error) -> str:
    """What the CA said, in one line: problem type and detail, then any sub-problems per identifier."""
    text = f"{problem.typ}: {problem.detail or problem.title or 'no detail given'}"
    for sub in problem.subproblems or ():
        who = sub.identifier.value if sub.identifier else "?"
        text += f"; {who}: {sub.typ}: {sub.detail or sub.title or 'no detail given'}"
    return text


def problem_code(problem: messages.Error, rejected: str) -> str:
    """Our error code for an RFC 8555 problem; `rejected` is the code for a refusal at this step."""
    code = problem.code
    if code == "rateLimited":
        return "RateLimited"
    if code == "serverInternal":
        return "IssuerFailed"
    if code in ("accountDoesNotExist", "externalAccountRequired"):
        return "AccountRejected"
    if code == "invalidProfile":
        return "UnknownProfile"
    return rejected


# ---- the issuer ---------------------------------------------------------------------------


class _NewOrderReplacing(messages.NewOrder):
    """newOrder naming the certificate it replaces (RFC 9773 section 5); acme 5.1's NewOrder has
    `profile` but not `replaces`."""

    replaces: str = jose.field("replaces", omitempty=True)


class AcmeIssuer:
    """Issues through one ACME directory; one instance serves a whole process (thread-safe)."""

    name = "acme"
    # The CA decides notAfter. Chains seen in practice: one or two intermediates, under 3 KB.
    capabilities = IssuerCapabilities(
        rekey_keeps_not_after=False, max_chain_der_bytes=6144, revocation_reasons=ACME_REASONS
    )

    def __init__(
        self,
        directory_url: str,
        *,
        vault: SecretStore,
        dns: DnsProvider,
        contact_email: str | None = None,
        eab: ExternalAccountBinding | None = None,
        ca_bundle: str | Path | None = None,
        propagation_delay: float = 0.0,
        order_timeout: float = DEFAULT_ORDER_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        network_timeout: int = DEFAULT_NETWORK_TIMEOUT,
        default_profile: str = "",
    ) -> None:
        if not directory_url:
            raise ValueError("an ACME issuer needs a directory URL")
        self.directory_url = directory_url
        self.vault = vault
        self.dns = dns
        self.contact_email = contact_email or None
        self.eab = eab
        self.ca_bundle = Path(ca_bundle) if ca_bundle else None
        self.propagation_delay = propagation_delay
        self.order_timeout = order_timeout
        self.poll_interval = poll_interval
        self.network_timeout = network_timeout
        self.default_profile = default_profile
        self._lock = threading.Lock()
        self._key: jose.JWK | None = None
        self._account_url: str | None = None

    @property
    def account_secret_name(self) -> str:
        return account_secret_name(self.directory_url)

    def account_url(self) -> str:
        """The CA's URL for our account, creating the key and registering on first use."""
        with self._connect() as conv:
            return conv.account_url

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        if not request.hostnames:
            raise BadRequest("an ACME order needs at least one hostname", code="InvalidHostnames")
        csr_pem = request.csr.public_bytes(serialization.Encoding.PEM)
        deadline = time.monotonic() + self.order_timeout
        with self._connect() as conv:
            try:
                fullchain = self._run_order(conv, csr_pem, request, deadline)
            except IssuerError as err:
                if err.code == "AccountRejected":
                    self._forget_account()  # e.g. the CA lost the account; look it up again next time
                raise
            certificate, chain = _split_fullchain(fullchain, request.csr.public_key(), conv.host)
            window = conv.renewal_window_or_none(certificate)
            ari_id = _ari_id_or_empty(certificate) if conv.offers_ari else ""
        log.info("ACME CA %s issued %x for %s", conv.host, certificate.serial_number, ", ".join(request.hostnames))
        return IssuedCertificate(certificate=certificate, chain=chain, renewal_window=window, ari_id=ari_id)

    def renewal_window(self, cert: x509.Certificate) -> tuple[datetime, datetime] | None:
        """The CA's suggested renewal window (RFC 9773), or None when the CA offers no ARI."""
        with self._open(key=None) as conv:
            return conv.renewal_window(cert)

    def renewal_info(self, ari_id: str) -> RenewalInfo | None:
        """The CA's current window for the certificate `ari_id` names, with the answer's Retry-After."""
        with self._open(key=None) as conv:
            return conv.renewal_info(ari_id)

    def revoke(self, certificate: x509.Certificate, reason: Reason) -> bool:
        """revokeCert (RFC 8555 section 7.6) signed by the account that ordered the certificate;
        the CA's alreadyRevoked is the answer True, not a failure."""
        with self._connect() as conv, conv.errors("revoking the certificate", rejected="RevocationRefused"):
            try:
                conv.client.revoke(certificate, reason_code(reason))
            except messages.Error as problem:
                if problem.code == "alreadyRevoked":
                    log.info("ACME CA %s had revoked %s already", conv.host, serial_hex(certificate))
                    return True
                raise
        log.info("ACME CA %s revoked %s (%s)", conv.host, serial_hex(certificate), reason.value)
        return False

    def check_profile(self, profile: str) -> None:
        """Refuse at request time a profile the directory's meta.profiles does not list."""
        with self._open(key=None) as conv:
            offered = dict(getattr(conv.directory.meta, "profiles", None) or {})
        if profile in offered:
            return
        names = ", ".join(sorted(offered)) if offered else "none"
        raise BadRequest(
            f"ACME CA {conv.host} offers no profile {profile[:40]!r}; its profiles: {names}", code="UnknownProfile"
        )

    # -- order ------------------------------------------------------------------------------

    def _run_order(self, conv: _Conversation, csr_pem: bytes, request: IssueRequest, deadline: float) -> str:
        published: list[tuple[str, str]] = []
        hostnames = request.hostnames
        try:
            with conv.errors("creating the order"):
                order = conv.new_order(csr_pem, request)
            log.info("ACME order %s for %s", order.uri, ", ".join(hostnames))
            answers = self._publish_challenges(conv, order, published)
            if answers and self.propagation_delay > 0:
                time.sleep(self.propagation_delay)
            for challb in answers:
                with conv.errors("answering the dns-01 challenge"):
                    conv.client.answer_challenge(challb, challb.chall.response(conv.key))
            body = self._poll_order(conv, order.uri, deadline, waiting=messages.STATUS_PENDING, names=hostnames)
            if body.status == messages.STATUS_READY:
                with conv.errors("finalizing the order"):
                    conv.client.begin_finalization(order)
                body = self._poll_order(conv, order.uri, deadline, waiting=messages.STATUS_PROCESSING, names=hostnames)
            if body.status == messages.STATUS_INVALID:
                raise conv.invalid_order(body, hostnames)
            if body.status != messages.STATUS_VALID or not body.certificate:
                raise IssuerError(
                    f"ACME CA {conv.host} left the order for {', '.join(hostnames)} "
                    f"{body.status.name} without a certificate",
                    code="IssuerFailed",
                )
            with conv.errors("downloading the certificate"):
                return conv.post_as_get(body.certificate).text
        finally:
            self._withdraw(published)

    def _publish_challenges(
        self, conv: _Conversation, order: messages.OrderResource, published: list[tuple[str, str]]
    ) -> list[messages.ChallengeBody]:
        """Put every pending authorization's TXT value in DNS; returns the challenges to answer."""
        answers = []
        for authzr in order.authorizations:
            authz = authzr.body
            name = _identifier_text(authz)
            if authz.status == messages.STATUS_VALID:
                continue  # the CA reused an earlier validation
            if authz.status != messages.STATUS_PENDING:
                raise IssuerError(
                    f"ACME CA {conv.host} reports authorization for {name} as {authz.status.name}", code="OrderInvalid"
                )
            challb = next((c for c in authz.challenges if isinstance(c.chall, challenges.DNS01)), None)
            if challb is None:
                raise IssuerError(f"ACME CA {conv.host} offers no dns-01 challenge for {name}", code="OrderInvalid")
            fqdn = absolute_name(challb.chall.validation_domain_name(authz.identifier.value))
            value = challb.chall.validation(conv.key)
            self.dns.set_txt(fqdn, value)
            published.append((fqdn, value))
            answers.append(challb)
        return answers

    def _withdraw(self, published: list[tuple[str, str]]) -> None:
        # Clean-up failures must not hide the order's own outcome; stale TXT values are harmless.
        for fqdn, value in published:
            try:
                self.dns.clear_txt(fqdn, value)
            except Exception as err:
                log.warning("could not remove TXT value at %s: %s", fqdn, err)

    def _poll_order(
        self, conv: _Conversation, url: str, deadline: float, *, waiting: messages.Status, names: tuple[str, ...]
    ) -> messages.Order:
        """Poll until the order leaves `waiting`, sleeping as Retry-After asks (else a short
        wait that grows to poll_interval), never past the deadline."""
        polls = 0
        while True:
            with conv.errors("polling the order"):
                response = conv.post_as_get(url)
                body = messages.Order.from_json(response.json())
            if body.status != waiting:
                return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IssuerError(
                    f"ACME order for {', '.join(names)} at {conv.host} still {body.status.name} "
                    f"after {self.order_timeout:g} s",
                    code="OrderTimeout",
                )
            delay = poll_delay(polls, retry_after_seconds(response.headers.get("Retry-After")), self.poll_interval)
            polls += 1
            time.sleep(min(delay, remaining))

    # -- account ----------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[_Conversation]:
        key = self._account_key()
        with self._open(key) as conv:
            with self._lock:  # first use only: one lookup/registration per process, not one per thread
                if self._account_url is None:
                    self._account_url = conv.find_account() or conv.register(self.contact_email, self.eab)
                    log.info("using ACME account %s at %s", self._account_url, conv.host)
                account_url = self._account_url
            conv.use_account(account_url)
            yield conv

    def _forget_account(self) -> None:
        with self._lock:
            self._account_url = None

    def _account_key(self) -> jose.JWK:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create_key()
            return self._key

    def _load_or_create_key(self) -> jose.JWK:
        name = self.account_secret_name
        try:
            return _jwk(self._read_key(name), name)
        except NotFound:
            pass
        log.info("creating ACME account key %s for %s", name, self.directory_url)
        self.vault.set_secret(
            name,
            private_key_to_pem(generate_private_key(KeyType.EC256)),
            content_type="application/x-pem-file",
            tags={"certsync-purpose": "acme-account-key", "acme-directory": self.directory_url[:256]},
        )
        # Two instances starting together may both write a key; the last version wins, so use that.
        return _jwk(self._read_key(name), name)

    def _read_key(self, name: str) -> PrivateKey:
        secret = self.vault.get_secret(name)
        try:
            return private_key_from_pem(secret.value or "")
        except BadRequest:
            raise IssuerError(
                f"Key Vault secret {name} does not hold a PEM private key", code="AccountKeyInvalid"
            ) from None

    def _open(self, key: jose.JWK | None) -> AbstractContextManager[_Conversation]:
        verify = str(self.ca_bundle) if self.ca_bundle else True
        return _Conversation.open(self.directory_url, key, verify=verify, timeout=self.network_timeout)


class _Conversation:
    """One connection's worth of talking to the CA: its own nonces, and errors translated to ours."""

    def __init__(self, net: ClientNetwork, host: str) -> None:
        self.net = net
        self.host = host
        self.client: ClientV2 = None  # type: ignore[assignment]  # set by open() once the directory is read
        self.account_url = ""
        self._last_response: requests.Response | None = None
        net.session.hooks["response"].append(self._remember)
        net.session.hooks["response"].append(requests_hook(ACME))

    @classmethod
    @contextmanager
    def open(
        cls, directory_url: str, key: jose.JWK | None, *, verify: str | bool, timeout: int
    ) -> Iterator[_Conversation]:
        alg = _alg_for(key) if key else jose.RS256
        # verify_ssl goes straight to requests' `verify`, so a CA bundle path works too.
        net = ClientNetwork(
            key, alg=alg, verify_ssl=verify, user_agent=USER_AGENT, timeout=timeout  # type: ignore[arg-type]
        )
        conv = cls(net, urlparse(directory_url).netloc or directory_url)
        try:
            with conv.errors("reading the directory"):
                conv.client = ClientV2(ClientV2.get_directory(directory_url, net), net)
            yield conv
        finally:
            net.session.close()

    @property
    def key(self) -> jose.JWK:
        assert self.net.key is not None
        return self.net.key

    @property
    def directory(self) -> messages.Directory:
        return self.client.directory

    def find_account(self) -> str | None:
        """The URL of the account for our key if the CA knows it (newAccount onlyReturnExisting)."""
        with self.errors("looking up the account", rejected="AccountRejected"):
            try:
                response = self.net.post(
                    self.directory["newAccount"],
                    messages.NewRegistration(only_return_existing=True),
                    new_nonce_url=self.directory["newNonce"],
                )
            except acme_errors.ConflictError as conflict:
                return conflict.location  # a 409 naming the account is an answer too
            except messages.Error as problem:
                if problem.code == "accountDoesNotExist":
                    return None
                raise
        return response.headers.get("Location")

    def register(self, contact_email: str | None, eab: ExternalAccountBinding | None) -> str:
        meta = self.directory.meta
        if eab is None and getattr(meta, "external_account_required", False):
            raise IssuerError(
                f"ACME CA {self.host} requires External Account Binding; "
                "set ACME_EAB_KID and ACME_EAB_HMAC_KEY from the CA's account page",
                code="AccountRejected",
            )
        binding = None
        if eab is not None:
            binding = messages.ExternalAccountBinding.from_data(
                account_public_key=self.key.public_key(), kid=eab.kid, hmac_key=eab.hmac_key, directory=self.directory
            )
        registration = messages.NewRegistration.from_data(
            email=contact_email, terms_of_service_agreed=True, external_account_binding=binding
        )
        with self.errors("registering the account", rejected="AccountRejected"):
            try:
                regr = self.client.new_account(registration)
            except acme_errors.ConflictError as conflict:
                return conflict.location  # another instance registered this key a moment ago
        if not regr.uri:
            raise IssuerError(
                f"ACME CA {self.host} registered the account but sent no account URL", code="IssuerFailed"
            )
        return regr.uri

    def use_account(self, url: str) -> None:
        self.account_url = url
        self.net.account = messages.RegistrationResource(uri=url, body=messages.Registration())

    @property
    def offers_ari(self) -> bool:
        try:
            self.directory["renewalInfo"]
        except KeyError:
            return False
        return True

    def new_order(self, csr_pem: bytes, request: IssueRequest) -> messages.OrderResource:
        """The library's newOrder (which sends `profile`); a renewal at a CA offering ARI adds
        `replaces`, which the library cannot send, so that order is posted here."""
        if not (request.replaces and self.offers_ari):
            return self.client.new_order(csr_pem, profile=request.profile or None)
        identifiers = tuple(messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=h) for h in request.hostnames)
        order = _NewOrderReplacing(identifiers=identifiers, profile=request.profile, replaces=request.replaces)
        response = self.net.post(self.directory["newOrder"], order, new_nonce_url=self.directory["newNonce"])
        body = messages.Order.from_json(response.json())
        authorizations = tuple(
            messages.AuthorizationResource(body=messages.Authorization.from_json(self.post_as_get(url).json()), uri=url)
            for url in body.authorizations or ()
        )
        return messages.OrderResource(
            body=body, uri=response.headers.get("Location"), authorizations=authorizations, csr_pem=csr_pem
        )

    def post_as_get(self, url: str) -> requests.Response:
        return self.net.post(url, None, new_nonce_url=self.directory["newNonce"])

    def invalid_order(self, body: messages.Order, names: tuple[str, ...]) -> IssuerError:
        """OrderInvalid quoting the CA: each failed challenge's error, else the order's own."""
        reasons = []
        for url in body.authorizations or ():
            try:
                authz = messages.Authorization.from_json(self.post_as_get(url).json())
            except Exception as err:
                log.warning("could not read authorization %s: %s", url, err)
                continue
            reasons += [f"{_identifier_text(authz)}: {problem_text(c.error)}" for c in authz.challenges if c.error]
        if not reasons and body.error:  # e.g. finalization refused (badCSR), or CAs that repeat it here
            reasons.append(problem_text(body.error))
        because = "; ".join(reasons) or "the CA gave no reason"
        return IssuerError(
            f"ACME CA {self.host} marked the order for {', '.join(names)} invalid: {because}", code="OrderInvalid"
        )

    def renewal_window(self, cert: x509.Certificate) -> tuple[datetime, datetime] | None:
        if not self.offers_ari:
            return None
        try:
            cert_id = ari_cert_id(cert)
        except ValueError as err:
            log.info("no renewal information for %s: %s", hex(cert.serial_number), err)
            return None
        info = self.renewal_info(cert_id)
        return info.window if info else None

    def renewal_info(self, ari_id: str) -> RenewalInfo | None:
        """RFC 9773 section 4.2: GET renewalInfo/<id>; the Retry-After says when to ask again."""
        try:
            base = self.directory["renewalInfo"]
        except KeyError:
            return None
        with self.errors("fetching renewal information", rejected="IssuerFailed"):
            response = self.net.get(f"{base.rstrip('/')}/{ari_id}")
        try:
            window = parse_renewal_window(response.json())
        except ValueError as err:
            raise IssuerError(
                f"ACME CA {self.host} sent unusable renewal information: {err}", code="IssuerFailed"
            ) from None
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return RenewalInfo(window, timedelta(seconds=seconds) if seconds else None)

    def renewal_window_or_none(self, cert: x509.Certificate) -> tuple[datetime, datetime] | None:
        # The certificate is issued already; missing advice only means the default renewal time applies.
        try:
            return self.renewal_window(cert)
        except IssuerError as err:
            log.warning("%s", err.message)
            return None

    @contextmanager
    def errors(self, doing: str, *, rejected: str = "OrderInvalid") -> Iterator[None]:
        """Translate library and network failures into IssuerError, quoting the CA, never secrets."""
        try:
            yield
        except CertsyncError:
            raise
        except messages.Error as problem:
            retry_after = retry_after_seconds(self._last_header("Retry-After"))
            raise IssuerError(
                f"ACME CA {self.host} refused {doing}: {problem_text(problem)}",
                code=problem_code(problem, rejected),
                retry_after=retry_after,
            ) from problem
        except requests.exceptions.SSLError as err:
            raise IssuerError(
                f"ACME CA {self.host} unreachable while {doing}: TLS verification failed "
                "(for a private CA, point ACME_CA_BUNDLE at its CA certificate)",
                code="IssuerUnreachable",
            ) from err
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise IssuerError(
                f"ACME CA {self.host} unreachable while {doing}: {_network_reason(err)}", code="IssuerUnreachable"
            ) from err
        except (acme_errors.Error, requests.RequestException, jose.DeserializationError, ValueError, KeyError) as err:
            status = self._last_response.status_code if self._last_response is not None else "no"
            raise IssuerError(
                f"ACME CA {self.host} gave an unexpected answer while {doing} (HTTP {status}): {type(err).__name__}",
                code="IssuerFailed",
            ) from err

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last_response = response

    def _last_header(self, name: str) -> str | None:
        return self._last_response.headers.get(name) if self._last_response is not None else None


# ---- helpers ------------------------------------------------------------------------------


def _split_fullchain(
    pem: str, public_key: CertificatePublicKeyTypes, host: str
) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """Leaf first, then the chain leaf->root (RFC 8555 7.4.2); the leaf must carry our key."""
    try:
        certs = certificates_from_pem(pem)
    except BadRequest:
        certs = ()
    if not certs:
        raise IssuerError(f"ACME CA {host} sent a certificate that is not a PEM chain", code="IssuerFailed")
    leaf, rest = certs[0], certs[1:]
    if not public_key_matches(public_key, leaf):
        raise IssuerError(f"ACME CA {host} sent a certificate for a different key", code="IssuerFailed")
    return leaf, order_chain(leaf, rest)


def _ari_id_or_empty(cert: x509.Certificate) -> str:
    try:
        return ari_cert_id(cert)
    except ValueError:
        return ""  # no Authority Key Identifier: nothing to poll renewalInfo with


def _jwk(key: PrivateKey, secret_name: str) -> jose.JWK:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return jose.JWKEC(key=key)
    if isinstance(key, rsa.RSAPrivateKey):
        return jose.JWKRSA(key=key)
    raise IssuerError(f"Key Vault secret {secret_name} holds an unsupported key type", code="AccountKeyInvalid")


def _alg_for(key: jose.JWK) -> jose.JWASignature:
    if isinstance(key, jose.JWKEC):
        size = key.key.curve.key_size
        return {256: jose.ES256, 384: jose.ES384, 521: jose.ES512}[size]
    return jose.RS256


def _identifier_text(authz: messages.Authorization) -> str:
    value = authz.identifier.value if authz.identifier else "?"
    return f"*.{value}" if authz.wildcard else value


def _network_reason(err: Exception) -> str:
    # requests nests the socket error deep inside; "[Errno 111] Connection refused" is what helps.
    found = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", str(err))
    if found:
        return found.group(1).strip()
    if isinstance(err, requests.exceptions.Timeout):
        return "timed out"
    return type(err).__name__


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- composition ------------------------------------------------------------------------------


def build_acme_issuer(settings: Settings, vault: SecretStore, dns: DnsProvider | None = None) -> AcmeIssuer:
    """The issuer described by the ACME_* and DNS_PROVIDER app settings (shared.settings.Settings).

    `dns` replaces the provider the settings describe: the tests hand in their DNS double
    (devtools.challtestsrv_dns), which answers at once."""
    if not settings.acme_directory_url:
        raise BadRequest("the acme issuer needs the ACME_DIRECTORY_URL app setting", code="IssuerNotConfigured")
    eab = None
    if settings.acme_eab_kid or settings.acme_eab_hmac_key:
        try:
            eab = ExternalAccountBinding(settings.acme_eab_kid, settings.acme_eab_hmac_key)
        except ValueError as err:
            raise BadRequest(f"ACME_EAB_KID / ACME_EAB_HMAC_KEY: {err}", code="IssuerNotConfigured") from None
    provider, propagation = (dns, 0.0) if dns is not None else _azure_dns_provider(settings)
    return AcmeIssuer(
        settings.acme_directory_url,
        vault=vault,
        dns=provider,
        contact_email=settings.acme_contact or None,
        eab=eab,
        ca_bundle=settings.acme_ca_bundle,
        propagation_delay=propagation,
        default_profile=settings.acme_profile,
    )


def _azure_dns_provider(settings: Settings) -> tuple[DnsProvider, float]:
    """Azure DNS through ARM_ENDPOINT; the local ARM emulator serves its zones over DNS at once."""
    scopes = [ZoneScope(s.subscription, s.resource_group) for s in settings.azure_dns_scopes]
    if not scopes:
        raise BadRequest(
            "DNS_PROVIDER=azure needs AZURE_DNS_SUBSCRIPTION_ID and AZURE_DNS_RESOURCE_GROUP, or AZURE_DNS_ZONE_SCOPES",
            code="IssuerNotConfigured",
        )
    if settings.arm_is_local_emulator:
        verify: str | bool = str(settings.arm_emulator_cert) if settings.arm_emulator_cert else True
        clients = dns_client_factory(settings.arm_endpoint, EmulatorCredential(), verify)
        return AzureDnsProvider(scopes, clients), 0.0
    clients = dns_client_factory(settings.arm_endpoint, DefaultAzureCredential())
    return AzureDnsProvider(scopes, clients), AZURE_DNS_PROPAGATION_SECONDS
