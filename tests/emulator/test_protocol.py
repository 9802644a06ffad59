"""Wire-level fidelity: challenge, api-version, error bodies, routing, ids and TLS."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import ssl
import stat

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import ApiVersion, SecretClient
from azure.keyvault.secrets._shared.http_challenge import HttpChallenge
from cryptography import x509

from devtools.kv_emulator import EmulatorHandle, start_emulator
from tests.raw_http import BAD_REQUEST_LINES, exchange_tls, keep_alive_exchange_tls, status_of

from .support import RawVault, client_for

CHALLENGE = re.compile(
    r'^Bearer authorization="https://login\.microsoftonline\.com/[0-9a-f-]{36}", resource="https://vault\.azure\.net"$'
)


def test_request_without_bearer_token_gets_the_key_vault_challenge(raw: RawVault) -> None:
    response = raw.call("GET", "/secrets/anything", token=False)

    assert response.status_code == 401
    header = response.headers["WWW-Authenticate"]
    assert CHALLENGE.match(header)
    assert response.json() == {
        "error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}
    }
    parsed = HttpChallenge(raw.url + "/secrets/anything", header)
    assert parsed.is_bearer_challenge()
    assert parsed.get_resource() == "https://vault.azure.net"
    assert parsed.tenant_id and len(parsed.tenant_id) == 36


def test_any_bearer_token_is_accepted_and_other_schemes_are_not(raw: RawVault) -> None:
    assert raw.call("GET", "/secrets", headers={"Authorization": "Bearer whatever"}, token=False).status_code == 200
    assert raw.call("GET", "/secrets", headers={"Authorization": "Basic dXNlcjpwdw=="}, token=False).status_code == 401
    assert raw.call("GET", "/secrets", headers={"Authorization": "Bearer "}, token=False).status_code == 401


@pytest.mark.parametrize(
    "version",
    [ApiVersion.V7_4, ApiVersion.V7_5, ApiVersion.V7_6, ApiVersion.V2025_07_01, ApiVersion.V2026_04_01],
)
def test_supported_api_versions_work_through_the_sdk(emulator: EmulatorHandle, version: ApiVersion) -> None:
    with client_for(emulator, api_version=version) as client:
        client.set_secret("versioned", version.value)
        assert client.get_secret("versioned").value == version.value


@pytest.mark.parametrize("version", ["7.3", "2016-10-01", "9.9", "", None])
def test_unsupported_or_missing_api_version_is_bad_parameter(raw: RawVault, version: str | None) -> None:
    response = raw.call("GET", "/secrets", api_version=version)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadParameter"
    assert error["message"] == (
        f"The specified version ({version or ''}) is not recognized. "
        "Consider using the latest supported version (2026-04-01)."
    )


def test_sdk_pinned_to_an_old_api_version_fails_like_production(emulator: EmulatorHandle) -> None:
    with client_for(emulator, api_version=ApiVersion.V7_3) as client, pytest.raises(HttpResponseError) as caught:
        client.get_secret("x")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadParameter"


def test_get_latest_with_and_without_trailing_slash(client: SecretClient, raw: RawVault) -> None:
    created = client.set_secret("slashes", "v")

    assert raw.call("GET", "/secrets/slashes").json()["id"] == created.id
    assert raw.call("GET", "/secrets/slashes/").json()["id"] == created.id


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"value": 5}', b'{"contentType": "text/plain"}', b'{"value": "x", "tags": [1]}']
)
def test_malformed_set_bodies_are_bad_parameter(raw: RawVault, body: bytes) -> None:
    response = raw.call("PUT", "/secrets/body-check", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_wrong_method_is_405_and_unknown_path_is_404(raw: RawVault) -> None:
    wrong = raw.call("POST", "/secrets/some-name")
    unknown = raw.call("GET", "/keys/some-key")

    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "MethodNotAllowed"
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "PUT", "PATCH", "DELETE"}
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NotFound"


def test_responses_carry_key_vault_headers(raw: RawVault) -> None:
    response = raw.call("GET", "/secrets", headers={"x-ms-client-request-id": "abc-123"})

    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["x-ms-client-request-id"] == "abc-123"
    assert re.match(r"^[0-9a-f-]{36}$", response.headers["x-ms-request-id"])


def test_ids_use_the_host_the_client_called(emulator: EmulatorHandle) -> None:
    localhost_url = emulator.url.replace("127.0.0.1", "localhost")
    with client_for(emulator, url=localhost_url) as client:
        created = client.set_secret("by-name", "x")
    assert created.id.startswith(f"{localhost_url}/secrets/by-name/")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_works_with_the_same_certificate() -> None:
    with start_emulator(host="::1") as kv, client_for(kv) as client:
        assert kv.url.startswith("https://[::1]:")
        assert client.set_secret("over-v6", "x").id.startswith(f"{kv.url}/secrets/over-v6/")


def test_certificate_is_its_own_strict_trust_anchor_for_loopback_names(emulator: EmulatorHandle) -> None:
    cert = x509.load_pem_x509_certificate(emulator.cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True

    key_path = emulator.cert_path.with_name("emulator-key.pem")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600

    # OpenSSL 3 strict mode (Python 3.13+ and urllib3 default there) must accept it too.
    context = ssl.create_default_context(cafile=str(emulator.cert_path))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    for server_name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=server_name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_untrusted_client_is_refused_and_server_keeps_serving(emulator: EmulatorHandle, raw: RawVault) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.url + "/_emulator/health", timeout=5)

    assert raw.manage("GET", "health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("data", "status"), [(d, s) for _, d, s in BAD_REQUEST_LINES], ids=[i for i, _, _ in BAD_REQUEST_LINES]
)
def test_unparsable_requests_get_a_status_line_and_a_json_error(
    emulator: EmulatorHandle, data: bytes, status: int
) -> None:
    reply = exchange_tls(emulator.port, data)

    head, _, body = reply.partition(b"\r\n\r\n")
    assert status_of(reply) == status, reply[:200]
    assert b"Connection: close" in head
    assert json.loads(body)["error"]["code"]


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "get", "BREW"])
def test_any_other_method_is_405_in_key_vault_words(emulator: EmulatorHandle, method: str) -> None:
    request = f"{method} /secrets/some-name?api-version=7.6 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
    reply = exchange_tls(emulator.port, request.encode() + b"Connection: close\r\n\r\n")

    assert status_of(reply) == 405, reply[:200]
    if method != "HEAD":
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["code"] == "MethodNotAllowed"


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # parses only with unbounded recursion


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/secrets/odd", DEEP_JSON),
        ("PATCH", "/secrets/odd", b'{"tags": ' * 50_000 + b"{}" + b"}" * 50_000),
        ("PUT", "/secrets/odd", b'{"value": "\\ud800"}'),  # a lone surrogate is not text
        ("POST", "/secrets/restore", DEEP_JSON),
    ],
    ids=["deep-array", "deep-object", "lone-surrogate", "deep-restore"],
)
def test_bodies_python_cannot_take_are_bad_parameter_not_500(
    raw: RawVault, method: str, path: str, body: bytes
) -> None:
    response = raw.call(method, path, data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"]["code"] == "BadParameter"


def test_a_deeply_nested_skiptoken_or_fault_plan_is_400(raw: RawVault) -> None:
    token = base64.urlsafe_b64encode(b"[" * 20_000).decode().rstrip("=")

    listing = raw.call("GET", "/secrets", params={"$skiptoken": token})
    plan = raw.manage("PUT", "faults", data=DEEP_JSON)

    assert (listing.status_code, plan.status_code) == (400, 400), (listing.text[:200], plan.text[:200])


def test_an_announced_body_over_the_limit_is_413_without_100_continue(emulator: EmulatorHandle) -> None:
    head = (
        "PUT /secrets/big?api-version=7.6 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        "Content-Type: application/json\r\nContent-Length: 200000000\r\nExpect: 100-continue\r\n\r\n"
    )

    reply = exchange_tls(emulator.port, head.encode())  # a client waits for 100 before sending the body

    assert status_of(reply) == 413, reply[:200]
    assert b"100 Continue" not in reply


def test_a_closing_connection_says_close_notify(emulator: EmulatorHandle) -> None:
    request = b"GET /secrets?api-version=7.6 HTTP/1.0\r\nAuthorization: Bearer t\r\n\r\n"

    reply = exchange_tls(emulator.port, request)  # raises SSLEOFError on a bare TCP close

    assert status_of(reply) == 200


def test_an_http_1_0_keep_alive_client_is_told_the_connection_stays(emulator: EmulatorHandle) -> None:
    request = b"GET /secrets?api-version=7.6 HTTP/1.0\r\nAuthorization: Bearer t\r\nConnection: keep-alive\r\n\r\n"

    first, second = keep_alive_exchange_tls(emulator.port, request)

    assert b"Connection: keep-alive" in first and b"Connection: keep-alive" in second
    assert status_of(second) == 200
