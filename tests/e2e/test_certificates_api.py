"""End to end over real HTTP: the local host, Azurite and the Key Vault emulator."""
from __future__ import annotations

import base64
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12


def create_certificate(api, name: str, hostnames: list[str], **extra) -> dict:
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": hostnames, **extra}))
    assert op["status"] == "Succeeded", op
    return api.call("GET", f"certificates/{name}").json()


def test_health_reports_both_dependencies(api):
    response = api.call("GET", "health")
    assert response.status_code == 200
    deps = response.json()["dependencies"]
    assert deps["tableStorage"]["status"] == "Healthy"
    assert deps["keyVault"]["status"] == "Healthy"


def test_issue_link_bind_and_overview(api, secret_client, unique):
    name = f"shop-{unique}"
    hosts = [f"shop-{unique}.example.com", f"*.shop-{unique}.example.com"]
    cert = create_certificate(api, name, hosts, keyType="EC256")
    assert cert["status"] == "Issued"
    assert cert["renewalDueAt"] < cert["notAfter"]

    secret = secret_client.get_secret(cert["keyVaultSecretName"])
    assert secret.properties.content_type == "application/x-pkcs12"
    assert secret.properties.tags["thumbprint"] == cert["thumbprint"]
    key, leaf, chain = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert leaf.fingerprint(hashes.SHA1()).hex().upper() == cert["thumbprint"]
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == sorted(hosts)
    assert len(chain) == 2  # intermediate and root
    leaf.verify_directly_issued_by(chain[0])

    link = api.call("POST", "links", {"name": f"{name}-link", "certificate": name, "scope": "rg-shop"})
    assert link.status_code == 201, link.text
    assert link.json()["thumbprint"] == cert["thumbprint"]
    for app, host in ((f"web-{unique}", hosts[0]), (f"api-{unique}", f"api.shop-{unique}.example.com")):
        bound = api.call("PUT", f"apps/{app}/bindings/{host}", {"link": f"{name}-link"})
        assert bound.status_code == 201, bound.text
        assert bound.json()["thumbprint"] == cert["thumbprint"]
    again = api.call("PUT", f"apps/web-{unique}/bindings/{hosts[0]}", {"link": f"{name}-link", "sslState": "IpBasedEnabled"})
    assert again.status_code == 200 and again.json()["sslState"] == "IpBasedEnabled"

    overview = api.call("GET", f"certificates/{name}").json()
    assert overview["syncAvailable"] is False
    assert overview["keyVaultSecretId"].endswith(f"/secrets/{cert['keyVaultSecretName']}")
    [state] = overview["linkedCertificates"]
    assert state["inSync"] is True and state["currentThumbprint"] == state["thumbprint"] == cert["thumbprint"]
    assert {b["app"] for b in state["bindings"]} == {f"web-{unique}", f"api-{unique}"}

    listed = api.call("GET", f"apps/web-{unique}/bindings").json()["value"]
    assert [b["hostname"] for b in listed] == [hosts[0]]
    summary = [c for c in api.call("GET", "certificates").json()["value"] if c["name"] == name][0]
    assert summary["outOfSyncLinks"] == 0 and summary["linkCount"] == 1

    assert api.call("DELETE", f"certificates/{name}").status_code == 409
    assert api.call("DELETE", f"links/{name}-link").status_code == 409
    history = api.call("GET", f"operations?target={name}&kind=issue").json()["value"]
    assert [op["status"] for op in history] == ["Succeeded"]


def test_binding_refused_for_uncovered_hostname(api, unique):
    name = f"narrow-{unique}"
    create_certificate(api, name, [f"a.{unique}.example.com"])
    assert api.call("POST", "links", {"name": f"{name}-l", "certificate": name}).status_code == 201
    response = api.call("PUT", f"apps/app1/bindings/b.{unique}.example.com", {"link": f"{name}-l"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "HostnameNotCovered"
    wildcard = api.call("PUT", f"apps/app1/bindings/x.a.{unique}.example.com", {"link": f"{name}-l"})
    assert wildcard.status_code == 400


def test_two_simultaneous_creates_one_wins(api, unique):
    name = f"race-{unique}"
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def create(host: str) -> None:  # two different requests (the same one twice is a retry: tests/service)
        barrier.wait()
        statuses.append(api.call("POST", "certificates", {"name": name, "hostnames": [host]}).status_code)

    threads = [threading.Thread(target=create, args=(f"{n}.{name}.example.com",)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [202, 409]


def test_root_ca_and_openapi_are_public(api, unique):
    create_certificate(api, f"root-{unique}", [f"root-{unique}.example.com"])  # the CA exists from the first issuance
    root = api.call("GET", "ca/root.pem")
    assert root.status_code == 200
    ca = x509.load_pem_x509_certificate(root.content)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    doc = api.call("GET", "openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/certificates/{name}" in doc["paths"]


INJECTION = "x' or PartitionKey ne '"


@pytest.mark.parametrize(
    "method,path,body,status,code",
    [
        ("POST", "certificates", "{not json", 400, "InvalidJson"),
        ("POST", "certificates", [], 400, "InvalidJson"),
        ("POST", "certificates", {"hostnames": ["a.example.com"]}, 400, "MissingField"),
        ("POST", "certificates", {"name": "ok", "hostnames": ["a.example.com"], "color": "red"}, 400, "UnknownField"),
        ("POST", "certificates", {"name": INJECTION, "hostnames": ["a.example.com"]}, 400, "InvalidName"),
        ("POST", "certificates", {"name": "Upper", "hostnames": ["a.example.com"]}, 400, "InvalidName"),
        ("POST", "certificates", {"name": "ok1", "hostnames": ["bad host"]}, 400, "InvalidHostname"),
        ("POST", "certificates", {"name": "ok2", "hostnames": []}, 400, "InvalidHostname"),
        ("POST", "certificates", {"name": "ok3", "hostnames": "a.example.com"}, 400, "InvalidField"),
        ("POST", "certificates", {"name": "ok4", "hostnames": ["a.example.com"], "keyType": "DSA"}, 400, "InvalidKeyType"),
        ("POST", "certificates", {"name": "ok5", "hostnames": ["a.example.com"], "issuer": "nope"}, 400, "InvalidIssuer"),
        ("POST", "certificates", {"name": "ok6", "hostnames": ["a.example.com"], "validityDays": 500}, 400, "InvalidValidity"),
        ("POST", "certificates", {"name": "ok7", "hostnames": ["a.example.com"], "autoRenew": "yes"}, 400, "InvalidField"),
        ("GET", "certificates/nope-missing", None, 404, "CertificateNotFound"),
        ("GET", f"certificates/{INJECTION}", None, 400, "InvalidName"),
        ("PATCH", "certificates/nope-missing", {"autoRenew": False}, 404, "CertificateNotFound"),
        ("PATCH", "certificates/nope-missing", {"autoRenew": None}, 400, "MissingField"),
        ("PATCH", "certificates/nope-missing", {"autoRenew": "yes"}, 400, "InvalidField"),
        ("POST", "certificates", {"name": None, "hostnames": ["a.example.com"]}, 400, "MissingField"),
        ("POST", "certificates", {"name": "ok8", "hostnames": None}, 400, "MissingField"),
        ("POST", "links", {"name": None, "certificate": "x"}, 400, "MissingField"),
        ("PUT", "apps/app1/bindings/a.example.com", {"link": None}, 400, "MissingField"),
        ("POST", "certificates/nope-missing/export", {"format": None}, 400, "MissingField"),
        ("PATCH", "certificates/nope-missing", {"other": 1}, 400, "UnknownField"),
        ("DELETE", "certificates/nope-missing", None, 404, "CertificateNotFound"),
        ("POST", "certificates/nope-missing/sync", None, 404, "CertificateNotFound"),
        ("POST", "certificates/nope-missing/renew", None, 404, "CertificateNotFound"),
        ("POST", "certificates/nope-missing/rekey", {"keyType": "RSA9"}, 400, "InvalidKeyType"),
        ("POST", "links", {"name": "l1"}, 400, "InvalidLinkSource"),
        ("POST", "links", {"name": "l1", "certificate": "nope-missing"}, 404, "CertificateNotFound"),
        ("POST", "links", {"name": "l1", "keyVaultSecretId": "http://evil/secrets/x"}, 400, "InvalidSecretId"),
        ("POST", "links", {"name": INJECTION, "certificate": "x"}, 400, "InvalidName"),
        ("POST", "links", {"name": "l1", "scope": INJECTION, "certificate": "x"}, 400, "InvalidScope"),
        ("GET", "links/nope-missing", None, 404, "LinkNotFound"),
        ("GET", f"links/{INJECTION}", None, 400, "InvalidName"),
        ("DELETE", "links/nope-missing", None, 404, "LinkNotFound"),
        ("POST", "links/nope-missing/sync", None, 404, "LinkNotFound"),
        ("PUT", "apps/app1/bindings/a.example.com", {"link": "nope-missing"}, 404, "LinkNotFound"),
        ("PUT", "apps/app1/bindings/a.example.com", {}, 400, "MissingField"),
        ("PUT", "apps/app1/bindings/a.example.com", {"link": "x", "sslState": "Off"}, 400, "InvalidSslState"),
        ("PUT", "apps/app1/bindings/bad host", {"link": "x"}, 400, "InvalidHostname"),
        ("PUT", f"apps/{INJECTION}/bindings/a.example.com", {"link": "x"}, 400, "InvalidAppName"),
        ("GET", f"apps/{INJECTION}/bindings", None, 400, "InvalidAppName"),
        ("DELETE", "apps/app1/bindings/nothing.example.com", None, 404, "BindingNotFound"),
        ("GET", "operations/123", None, 404, "OperationNotFound"),
        ("GET", f"operations?target={INJECTION}", None, 400, "InvalidName"),
        ("GET", "operations?kind=party", None, 400, "InvalidKind"),
    ],
)
def test_bad_input_gets_a_clear_4xx(api, method, path, body, status, code):
    if isinstance(body, str):
        response = api.call(method, path, raw=body.encode(), headers={"Content-Type": "application/json"})
    else:
        response = api.call(method, path, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in response.text


def test_a_required_field_sent_as_null_is_named(api):
    response = api.call("POST", "links", {"name": None, "certificate": "x"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "MissingField", "message": "field(s) name must have a value, not null"}
