"""Pure decisions of the ACME issuer: identifiers, windows, Retry-After, error mapping, factory."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from acme import messages
from acme.client import _renewal_info_path_component
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.dns.azure_dns import AzureDnsProvider, ZoneScope
from devtools.challtestsrv_dns import ChallTestSrvProvider
from shared.errors import BadRequest
from shared.issuers.acme import (
    AZURE_DNS_PROPAGATION_SECONDS,
    ExternalAccountBinding,
    account_secret_name,
    ari_cert_id,
    build_acme_issuer,
    parse_renewal_window,
    poll_delay,
    problem_code,
    problem_text,
    retry_after_seconds,
)
from shared.settings import Settings

UTC = timezone.utc


def certificate(serial: int, aki: bytes | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ari.test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime(2030, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 4, 1, tzinfo=UTC))
    )
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_ari_cert_id_matches_the_rfc_9773_example():
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert ari_cert_id(certificate(0x87654321, aki)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF, 0x1234, 0x8000, 2**159 - 1, 2**127 + 12345])
def test_ari_cert_id_agrees_with_the_acme_library(serial):
    cert = certificate(serial, bytes(range(20)))
    assert ari_cert_id(cert) == _renewal_info_path_component(cert)


def test_ari_cert_id_needs_an_authority_key_identifier():
    with pytest.raises(ValueError, match="Authority Key Identifier"):
        ari_cert_id(certificate(5, None))


def test_parse_renewal_window_accepts_nanoseconds_and_offsets():
    start, end = parse_renewal_window(
        {"suggestedWindow": {"start": "2031-01-02T03:04:05.123456789Z", "end": "2031-01-03T05:04:05+02:00"}},
    )
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert start.replace(microsecond=0) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert end == datetime(2031, 1, 3, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"suggestedWindow": {"start": "2031-01-02T00:00:00Z"}},
        {"suggestedWindow": {"start": "2031-01-02T00:00:00Z", "end": "2031-01-02T00:00:00Z"}},
        {"suggestedWindow": {"start": "2031-01-03T00:00:00Z", "end": "2031-01-02T00:00:00Z"}},
        {"suggestedWindow": {"start": "yesterday", "end": "2031-01-02T00:00:00Z"}},
    ],
    ids=["no-window", "no-end", "empty", "reversed", "not-a-date"],
)
def test_parse_renewal_window_refuses_unusable_windows(body):
    with pytest.raises(ValueError):
        parse_renewal_window(body)


NOW = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("", None),
        ("3600", 3600.0),
        (" 0 ", 0.0),
        ("Sat, 01 Jun 2030 12:01:30 GMT", 90.0),
        ("Sat, 01 Jun 2030 11:00:00 GMT", 0.0),  # already past: retry now
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_seconds(header, expected):
    assert retry_after_seconds(header, now=NOW) == expected


@pytest.mark.parametrize(
    "code, rejected, expected",
    [
        ("rateLimited", "OrderInvalid", "RateLimited"),
        ("rateLimited", "AccountRejected", "RateLimited"),
        ("serverInternal", "OrderInvalid", "IssuerFailed"),
        ("rejectedIdentifier", "OrderInvalid", "OrderInvalid"),
        ("badCSR", "OrderInvalid", "OrderInvalid"),
        ("unauthorized", "AccountRejected", "AccountRejected"),
        ("accountDoesNotExist", "OrderInvalid", "AccountRejected"),
        ("externalAccountRequired", "OrderInvalid", "AccountRejected"),
    ],
)
def test_problem_code(code, rejected, expected):
    assert problem_code(messages.Error.with_code(code, detail="x"), rejected) == expected


def test_problem_code_for_a_non_standard_type_is_the_step_refusal():
    assert problem_code(messages.Error(typ="urn:example:custom", detail="x"), "OrderInvalid") == "OrderInvalid"


def test_problem_text_quotes_type_detail_and_subproblems():
    problem = messages.Error.from_json(
        {
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "Error creating new order :: 2 identifiers rejected",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                    "detail": "Domain name is on a blocklist",
                    "identifier": {"type": "dns", "value": "bad.example"},
                }
            ],
        }
    )
    assert problem_text(problem) == (
        "urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: 2 identifiers rejected; "
        "bad.example: urn:ietf:params:acme:error:rejectedIdentifier: Domain name is on a blocklist"
    )


def test_account_secret_name_is_stable_per_directory_and_a_valid_key_vault_name():
    a = account_secret_name("https://acme-v02.api.letsencrypt.org/directory")
    assert a == account_secret_name("https://acme-v02.api.letsencrypt.org/directory/")
    assert a != account_secret_name("https://acme.zerossl.com/v2/DV90")
    assert re.fullmatch(r"[0-9a-zA-Z-]{1,127}", a) and a.startswith("certsync-acme-account-")


def test_eab_validates_and_hides_its_key():
    eab = ExternalAccountBinding("kid-1", "c2VjcmV0LWhtYWMta2V5")
    assert "c2VjcmV0" not in repr(eab)
    with pytest.raises(ValueError, match="both"):
        ExternalAccountBinding("kid-1", "")
    with pytest.raises(ValueError, match="base64url"):
        ExternalAccountBinding("kid-1", "not base64 !!")


# ---- factory --------------------------------------------------------------------------------------

BASE_ENV = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "KEY_VAULT_URL": "https://127.0.0.1:8443",
    "ACME_DIRECTORY_URL": "https://127.0.0.1:14000/dir",
    "OPERATIONS_QUEUE": "certsync-operations",
    "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
    "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE_ENV, **env})


class NoVault:
    def get_secret(self, name):  # pragma: no cover - the factory must not touch the vault
        raise AssertionError("factory read the vault")

    def set_secret(self, name, value, **kwargs):  # pragma: no cover
        raise AssertionError("factory wrote the vault")


def test_factory_uses_the_dns_double_the_tests_hand_in():
    issuer = build_acme_issuer(
        settings(ACME_CONTACT="ops@example.com"), NoVault(), dns=ChallTestSrvProvider("http://127.0.0.1:8055")
    )
    assert isinstance(issuer.dns, ChallTestSrvProvider) and issuer.propagation_delay == 0
    assert issuer.contact_email == "ops@example.com" and issuer.eab is None and issuer.ca_bundle is None


def test_factory_for_azure_dns_with_eab():
    issuer = build_acme_issuer(
        settings(
            DNS_PROVIDER="azure",
            AZURE_DNS_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000",
            AZURE_DNS_RESOURCE_GROUP="dns-rg",
            ACME_EAB_KID="kid-1",
            ACME_EAB_HMAC_KEY="c2VjcmV0LWhtYWMta2V5",
        ),
        NoVault(),
    )
    assert isinstance(issuer.dns, AzureDnsProvider) and issuer.dns.scopes == (
        ZoneScope("00000000-0000-0000-0000-000000000000", "dns-rg"),
    )
    assert issuer.propagation_delay == AZURE_DNS_PROPAGATION_SECONDS
    assert issuer.eab == ExternalAccountBinding("kid-1", "c2VjcmV0LWhtYWMta2V5")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ACME_DIRECTORY_URL": ""}, "ACME_DIRECTORY_URL"),
        ({"ACME_EAB_KID": "kid-1"}, "ACME_EAB"),
        ({"DNS_PROVIDER": "azure", "AZURE_DNS_RESOURCE_GROUP": "dns-rg"}, "AZURE_DNS_SUBSCRIPTION_ID"),
    ],
    ids=["no-directory", "half-eab", "azure-without-subscription"],
)
def test_factory_refuses_incomplete_settings(env, message):
    with pytest.raises(BadRequest) as caught:
        build_acme_issuer(settings(**env), NoVault())
    assert caught.value.code == "IssuerNotConfigured" and message in caught.value.message


@pytest.mark.parametrize(
    "polls, retry_after, expected",
    [
        (0, None, 0.1),  # a CA that validates in tens of ms is seen at once, not a second later
        (1, None, 0.2),
        (3, None, 0.8),
        (4, None, 1.0),  # capped at the poll interval
        (40, None, 1.0),
        (0, 3.0, 3.0),  # the CA's Retry-After wins
        (5, 0.0, 1.0),  # Retry-After: 0 would be a tight loop
    ],
)
def test_poll_delay(polls, retry_after, expected):
    assert poll_delay(polls, retry_after, poll_interval=1.0) == pytest.approx(expected)
