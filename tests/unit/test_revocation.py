"""Revocation decisions (shared.revocation) and the local CA's CRL (shared.issuers.crl, and
LocalCA.revoke / crl_der on an in-memory vault and list): table tests, then the DER read back."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from shared import pki
from shared.errors import BadRequest, IssuerError, NotFound
from shared.issuers import crl
from shared.issuers.base import IssueRequest
from shared.issuers.local_ca import LocalCA, create_authority
from shared.model import Certificate, RevocationList, RevokedSerial, RevokedVersion
from shared.revocation import (
    ACME_REASONS,
    LOCAL_CA_REASONS,
    Reason,
    check_not_revoked,
    may_reuse_key,
    parse_reason,
    reason_code,
)
from tests.fakes.hooks import Hooks
from tests.fakes.tables import FakeRevocationListStore
from tests.fakes.vault import FakeVault

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value,allowed,expected",
    [
        ("keyCompromise", ACME_REASONS, Reason.KEY_COMPROMISE),
        ("unspecified", ACME_REASONS, Reason.UNSPECIFIED),
        ("cessationOfOperation", ACME_REASONS, Reason.CESSATION_OF_OPERATION),
        ("privilegeWithdrawn", LOCAL_CA_REASONS, Reason.PRIVILEGE_WITHDRAWN),
        ("affiliationChanged", LOCAL_CA_REASONS, Reason.AFFILIATION_CHANGED),
    ],
)
def test_accepted_reasons(value, allowed, expected):
    assert parse_reason(value, allowed) is expected


@pytest.mark.parametrize(
    "value,allowed",
    [
        ("privilegeWithdrawn", ACME_REASONS),  # Let's Encrypt refuses it from a subscriber
        ("affiliationChanged", ACME_REASONS),
        ("cACompromise", LOCAL_CA_REASONS),  # about a CA, not a leaf
        ("certificateHold", LOCAL_CA_REASONS),  # temporary: certsync never un-revokes
        ("removeFromCRL", LOCAL_CA_REASONS),
        ("KeyCompromise", LOCAL_CA_REASONS),  # names are exact
        (1, LOCAL_CA_REASONS),  # the name, not the number
        (None, ACME_REASONS),
        ("x" * 500, ACME_REASONS),
    ],
)
def test_refused_reasons_name_the_allowed_ones(value, allowed):
    with pytest.raises(BadRequest) as refused:
        parse_reason(value, allowed)
    assert refused.value.code == "InvalidRevocationReason"
    assert "unspecified, keyCompromise" in refused.value.message and len(refused.value.message) < 300


def test_reason_codes_are_rfc_5280s():
    assert [reason_code(r) for r in Reason] == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert {r.value for r in Reason} == {f.value for f in x509.ReasonFlags}  # cryptography's names too


def cert(**kw) -> Certificate:
    base = dict(name="c", hostnames=("a.example.com",), key_type="EC256", issuer="local", secret_version="v2",
                thumbprint="T2", reuse_key=True)  # fmt: skip
    base.update(kw)
    return Certificate(**base)


def revoked(version: str, thumbprint: str, reason: str = "superseded") -> RevokedVersion:
    return RevokedVersion(version, thumbprint, "0A", reason, NOW)


@pytest.mark.parametrize(
    "changes,reuse",
    [
        ({}, True),
        ({"reuse_key": False}, False),
        ({"revoked": (revoked("v1", "T1"),)}, True),  # an older version superseded: its key is fine
        ({"revoked": (revoked("v1", "T1", "keyCompromise"),)}, False),  # with reuseKey, v2 has that key
        ({"revoked": (revoked("v2", "T2"),)}, False),  # the current version is revoked
    ],
)
def test_a_key_is_reused_only_when_nothing_says_it_leaked(changes, reuse):
    assert may_reuse_key(cert(**changes)) is reuse


def test_a_revoked_thumbprint_is_never_bound():
    check_not_revoked(cert(revoked=(revoked("v1", "T1"),)), "T2")
    check_not_revoked(None, "T1")  # a secret no certsync certificate owns
    with pytest.raises(BadRequest) as refused:
        check_not_revoked(cert(revoked=(revoked("v1", "T1"),)), "T1")
    assert refused.value.code == "CertificateRevoked" and "T1" in refused.value.message


def entry(serial: str, not_after: datetime = NOW + timedelta(days=90), reason: str = "keyCompromise") -> RevokedSerial:
    return RevokedSerial(serial, reason, NOW, not_after)


def test_the_list_grows_once_per_serial_and_every_issue_gets_the_next_number():
    first = crl.with_entry(RevocationList(), entry("0A"), NOW)
    assert first is not None and first.number == 1 and first.this_update == NOW
    assert crl.with_entry(first, entry("0A"), NOW + timedelta(hours=1)) is None  # already listed
    second = crl.with_entry(first, entry("0B"), NOW + timedelta(seconds=1, microseconds=5))
    assert second is not None and second.number == 2 and [e.serial for e in second.entries] == ["0A", "0B"]
    assert second.this_update == NOW + timedelta(seconds=1)  # whole seconds, as the DER holds them


@pytest.mark.parametrize(
    "this_update,due",
    [(None, True), (NOW - timedelta(hours=23), False), (NOW - crl.REISSUE_AFTER, True)],
)
def test_the_crl_is_issued_again_once_a_day(this_update, due):
    assert crl.needs_issue(RevocationList(number=3, this_update=this_update), NOW) is due


def test_an_entry_leaves_the_list_a_crl_lifetime_after_its_certificate_expired():
    listed = RevocationList(4, NOW, (entry("0A", NOW - crl.KEEP_AFTER_EXPIRY), entry("0B", NOW - timedelta(days=1))))
    assert [e.serial for e in crl.reissued(listed, NOW).entries] == ["0B"]


def test_the_crl_der_is_signed_by_the_intermediate_with_number_times_aki_and_reasons():
    authority = create_authority(NOW)
    listed = RevocationList(7, NOW, (entry("0A"), entry("0B", reason="unspecified"), entry("0C", reason="superseded")))
    parsed = x509.load_der_x509_crl(crl.build_crl(listed, authority.intermediate, authority.intermediate_key))

    assert parsed.issuer == authority.intermediate.subject
    assert parsed.is_signature_valid(authority.intermediate.public_key())
    assert not parsed.is_signature_valid(authority.root.public_key())
    assert parsed.last_update_utc == NOW and parsed.next_update_utc == NOW + crl.CRL_LIFETIME
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = parsed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    ski = authority.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert aki == ski
    reasons = {}
    for revoked_cert in parsed:
        try:
            reasons[revoked_cert.serial_number] = revoked_cert.extensions.get_extension_for_class(
                x509.CRLReason
            ).value.reason
        except x509.ExtensionNotFound:
            reasons[revoked_cert.serial_number] = None  # RFC 5280: unspecified is left out
    assert reasons == {0x0A: x509.ReasonFlags.key_compromise, 0x0B: None, 0x0C: x509.ReasonFlags.superseded}


def local_ca(store: FakeRevocationListStore, vault: FakeVault, clock=lambda: NOW) -> LocalCA:
    return LocalCA(vault, revocations=store, clock=clock)


def issue(ca: LocalCA) -> x509.Certificate:
    key = pki.generate_private_key(pki.KeyType.EC256)
    return ca.issue(IssueRequest.for_key(hostnames=("a.example.com",), private_key=key)).certificate


def test_the_local_ca_revokes_its_own_certificates_once_and_every_instance_serves_the_same_list():
    store, vault = FakeRevocationListStore(Hooks()), FakeVault()
    ca, other_instance = local_ca(store, vault), local_ca(store, vault)
    leaf = issue(ca)
    assert ca.revoke(leaf, Reason.KEY_COMPROMISE) is False
    assert other_instance.revoke(leaf, Reason.SUPERSEDED) is True  # already listed, with its first reason
    listed = x509.load_der_x509_crl(other_instance.crl_der())
    found = listed.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert found is not None
    assert found.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert listed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1


def test_a_certificate_of_another_ca_is_refused():
    store = FakeRevocationListStore(Hooks())
    ca = local_ca(store, FakeVault())
    issue(ca)
    stranger = issue(local_ca(FakeRevocationListStore(Hooks()), FakeVault()))
    with pytest.raises(IssuerError) as refused:
        ca.revoke(stranger, Reason.UNSPECIFIED)
    assert refused.value.code == "NotIssuedHere" and store.find() is None


def test_reading_the_crl_never_creates_the_ca_and_a_day_later_issues_a_new_number():
    store, vault = FakeRevocationListStore(Hooks()), FakeVault()
    clock = [NOW]
    ca = local_ca(store, vault, clock=lambda: clock[0])
    with pytest.raises(NotFound) as missing:
        ca.crl_der()
    assert missing.value.code == "LocalCANotCreated" and not vault.secrets
    issue(ca)
    empty = x509.load_der_x509_crl(ca.crl_der())
    assert len(empty) == 0 and empty.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert ca.crl_der() and store.find().number == 1  # read again the same day: the same CRL
    clock[0] = NOW + crl.REISSUE_AFTER
    later = x509.load_der_x509_crl(ca.crl_der())
    assert later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert later.last_update_utc == clock[0]


def test_two_racing_revocations_both_end_on_the_list():
    hooks = Hooks()
    store, vault = FakeRevocationListStore(hooks), FakeVault()
    ca = local_ca(store, vault)
    first, second = issue(ca), issue(ca)
    hooks.on("before:revocations.add", lambda *_: ca.revoke(second, Reason.SUPERSEDED))  # lands first
    ca.revoke(first, Reason.KEY_COMPROMISE)
    listed = store.find()
    assert listed is not None and {e.serial for e in listed.entries} == {pki.serial_hex(first), pki.serial_hex(second)}
    assert listed.number == 2


def test_the_crl_key_is_the_intermediate_p384():
    store, vault = FakeRevocationListStore(Hooks()), FakeVault()
    ca = local_ca(store, vault)
    leaf = issue(ca)
    ca.revoke(leaf, Reason.UNSPECIFIED)
    parsed = x509.load_der_x509_crl(ca.crl_der())
    assert parsed.signature_hash_algorithm is not None and parsed.signature_hash_algorithm.name == "sha384"
    issuer = x509.load_pem_x509_certificates(ca.root_certificate_pem().encode())[0]
    assert isinstance(issuer.public_key(), ec.EllipticCurvePublicKey)
    assert parsed.issuer != issuer.subject  # not the root: the intermediate that signed the leaf
    assert parsed.issuer == leaf.issuer
