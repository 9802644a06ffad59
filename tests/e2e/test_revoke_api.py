"""Revoke end to end over real HTTP (the local host, Azurite, the Key Vault emulator): the 202
operation, the renewal it hands over to and the sync that moves links and bindings, the
anonymous CRL naming the serial, and the answers to bad, repeated and unknown requests."""
from __future__ import annotations

import base64
import time

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12


def wait_for(api, op_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = api.call("GET", f"operations/{op_id}").json()
        if op["status"] in ("Succeeded", "Failed"):
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation {op_id} did not finish in {timeout} s")


def test_revoke_renews_moves_links_and_bindings_and_the_crl_names_the_serial(api, secret_client, unique):
    name, host = f"rv-{unique}", f"rv-{unique}.example.com"
    created = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [host], "keyType": "EC256"}))
    assert created["status"] == "Succeeded", created
    before = api.call("GET", f"certificates/{name}").json()
    assert api.call("POST", "links", {"name": f"{name}-link", "certificate": name, "scope": "rg-rv"}).status_code == 201
    for app in (f"web-{unique}", f"api-{unique}"):
        assert api.call("PUT", f"apps/{app}/bindings/{host}", {"link": f"{name}-link"}).status_code == 201

    refused = api.call("POST", f"certificates/{name}/revoke", {"reason": "cACompromise"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidRevocationReason"
    assert "keyCompromise" in refused.json()["error"]["message"]
    missing = api.call("POST", f"certificates/{name}/revoke")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingBody"

    revoked = api.wait_operation(api.call("POST", f"certificates/{name}/revoke", {"reason": "keyCompromise"}))
    assert revoked["status"] == "Succeeded", revoked
    assert revoked["kind"] == "revoke" and revoked["result"]["thumbprint"] == before["thumbprint"]
    renewal = wait_for(api, revoked["result"]["renewalOperation"])
    assert renewal["kind"] == "rekey" and renewal["status"] == "Succeeded", renewal
    sync = wait_for(api, renewal["result"]["syncOperation"])
    assert sync["status"] == "Succeeded", sync

    after = api.call("GET", f"certificates/{name}").json()
    assert after["status"] == "Issued" and after["thumbprint"] != before["thumbprint"]
    [entry] = after["revokedVersions"]
    assert entry["thumbprint"] == before["thumbprint"] and entry["reason"] == "keyCompromise"
    assert entry["version"] == before["keyVaultSecretVersion"] and entry["serial"] == before["serial"]
    [link] = after["linkedCertificates"]
    assert link["thumbprint"] == after["thumbprint"] and link["inSync"] is True
    assert {b["thumbprint"] for b in link["bindings"]} == {after["thumbprint"]}

    crl_response = api.call("GET", "ca/crl")
    assert crl_response.status_code == 200
    assert crl_response.headers["Content-Type"].startswith("application/pkix-crl")
    crl = x509.load_der_x509_crl(crl_response.content)
    secret = secret_client.get_secret(f"cert-{name}", before["keyVaultSecretVersion"])
    _, leaf, chain = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    intermediate = next(c for c in chain if c.subject == leaf.issuer)
    assert crl.issuer == intermediate.subject and crl.is_signature_valid(intermediate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    assert crl.next_update_utc > crl.last_update_utc

    again = api.wait_operation(
        api.call("POST", f"certificates/{name}/revoke", {"reason": "keyCompromise", "version": before["thumbprint"]})
    )
    assert again["status"] == "Succeeded" and again["result"]["alreadyRevoked"] is True
    assert "renewalOperation" not in again["result"]
    assert api.call("GET", f"certificates/{name}").json()["thumbprint"] == after["thumbprint"]


def test_revoke_answers_for_unknown_certificates_versions_and_fields(api, unique):
    unknown = api.call("POST", f"certificates/none-{unique}/revoke", {"reason": "superseded"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "CertificateNotFound"
    name = f"rv2-{unique}"
    created = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))
    assert created["status"] == "Succeeded", created
    no_version = api.call("POST", f"certificates/{name}/revoke", {"reason": "superseded", "version": "0" * 32})
    assert no_version.status_code == 404 and no_version.json()["error"]["code"] == "VersionNotFound"
    extra = api.call("POST", f"certificates/{name}/revoke", {"reason": "superseded", "when": "now"})
    assert extra.status_code == 400 and extra.json()["error"]["code"] == "UnknownField"
    wrong_type = api.call("POST", f"certificates/{name}/revoke", {"reason": 1})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "InvalidField"
    assert api.call("GET", f"certificates/{name}").json()["status"] == "Issued"
