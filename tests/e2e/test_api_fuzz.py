"""A fixed table of hostile inputs against every route of the HTTP API, over real HTTP.

Deterministic (no random generation) and fast: every case is one request. Each answer must be
below 500, carry no stack trace, and a 4xx must be the ARM-style {"error": {"code", "message"}}
(except the host's own empty 404 for a path or method no function is routed to).

Happy paths are reachable: one issued certificate, a link to it and a binding exist first.
"""
from __future__ import annotations

import base64
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devtools.processes import free_port

SUFFIX = os.urandom(3).hex()
CERT = f"fz-{SUFFIX}"
LINK = f"fz-{SUFFIX}-l"
APP = f"fz-{SUFFIX}"
HOST = f"www.fz-{SUFFIX}.example.com"
MISSING = f"fz-{SUFFIX}-missing"
OP_ID = "8204231346881-585d7872a991"  # well formed, never issued
PASSWORD = "fuzz-password-0123"
INJECTION = "x' or PartitionKey ne '"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    unrouted: bool = False  # no function takes this path/method: the host's empty 404 is fine
    status: int | None = None  # when set, the one right answer

    def param(self, *marks: Any) -> Any:
        return pytest.param(self, id=self.id, marks=marks)


def principal(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


# --- values ----------------------------------------------------------------------------------------

# A value of the wrong type (or a nasty value of the right type) for any field.
NASTY_VALUES: list[tuple[str, Any]] = [
    ("int", 0),
    ("neg", -1),
    ("float", 1.5),
    ("bigint", 10**40),
    ("true", True),
    ("false", False),
    ("emptystr", ""),
    ("spaces", "X Y!"),
    ("list", []),
    ("list1", [1]),
    ("dict", {}),
    ("dict1", {"a": 1}),
    ("nul", "a\x00b"),
    ("surrogate", "\ud800"),
    ("emoji", "\U0001F600"),
    ("rtl", "\u202eabc"),
    ("long", "x" * 10_000),
    ("odata", INJECTION),
    ("newline", "a\n"),
]

# Path segments, already percent-encoded as they go on the wire.
NASTY_SEGMENTS: list[tuple[str, str]] = [
    ("slash", "%2F"),
    ("a-slash-b", "a%2Fb"),
    ("dotdot", "%2e%2e"),
    ("dotdot-slash", "..%2F..%2Fcertificates"),
    ("nul", "%00"),
    ("bad-utf8", "%FF"),
    ("emoji", "%F0%9F%98%80"),
    ("rtl", "%E2%80%AE"),
    ("space", "a%20b"),
    ("long", "a" * 2000),
    ("odata", "x'%20or%20PartitionKey%20ne%20'"),
    ("filter", "$filter=x"),
    ("upper", "ABC"),
    ("backslash", "a%5Cb"),
]

NASTY_HOSTNAMES: list[tuple[str, str]] = [
    ("slash", "%2F"),
    ("a-slash-b", "a%2Fb.example.com"),
    ("dotdot", "%2e%2e"),
    ("nul", "www.example.com%00"),
    ("emoji", "%F0%9F%98%80.example.com"),
    ("bad-utf8", "%FF.example.com"),
    ("label64", "a" * 64 + ".example.com"),
    ("name254", ("a" * 60 + ".") * 4 + "com"),
    ("ipv4", "127.0.0.1"),
    ("ipv6", "%5B%3A%3A1%5D"),
    ("mid-wildcard", "a.%2A.example.com"),
    ("bare-wildcard", "%2A.com"),
    ("bad-punycode", "xn--zz.example.com"),
    ("underscore", "a_b.example.com"),
    ("odata", "x'%20or%20''%20eq%20'"),
    ("space", "a%20b.example.com"),
]

SECRET_IDS: list[tuple[str, str]] = [
    ("http", "http://vault.example.com/secrets/x"),
    ("no-host", "https:///secrets/x"),
    ("no-secrets", "https://vault.example.com/keys/x"),
    ("too-deep", "https://vault.example.com/secrets/x/v/extra"),
    ("bad-name", "https://vault.example.com/secrets/a_b"),
    ("dotdot", "https://vault.example.com/secrets/../secrets/x"),
    ("too-long", "https://vault.example.com/secrets/" + "a" * 3000),
    ("unclosed-ipv6", "https://[::1/secrets/x"),
    ("port-out-of-range", "https://vault.example.com:99999/secrets/x"),
    ("port-not-a-number", "https://vault.example.com:abc/secrets/x"),
    ("backslash-authority", "https://vault.example.com\\@127.0.0.1/secrets/x"),
    ("label-too-long", "https://" + "a" * 64 + ".vault.azure.net/secrets/x"),
    ("nfkc-netloc", "https://\u2100.vault.azure.net/secrets/x"),
    ("ipv4-out-of-range", "https://127.0.0.256:8443/secrets/x"),
    ("ipv4-bad-octal", "https://127.0.0.08:8443/secrets/x"),
    ("ipv4-five-parts", "https://127.0.0.0.1:8443/secrets/x"),
    ("ipv6-zone", "https://[fe80::1%25eth0]:8443/secrets/x"),
    ("name-starting-127", "https://127.evil.example:8443/secrets/x"),
    ("double-trailing-dot", "https://v.vault.azure.net../secrets/x"),
    ("mapped-private", "https://[::ffff:10.0.0.1]:8443/secrets/x"),
]


# --- cases -----------------------------------------------------------------------------------------

# Routes that read a JSON body: (name, method, path, a valid base body the field cases vary).
BODY_ROUTES: list[tuple[str, str, str, dict]] = [
    ("create-cert", "POST", "certificates", {"name": CERT, "hostnames": [HOST]}),
    ("patch-cert", "PATCH", f"certificates/{CERT}", {"autoRenew": True}),
    ("rekey", "POST", f"certificates/{CERT}/rekey", {"keyType": "EC256"}),
    ("export", "POST", f"certificates/{CERT}/export", {"format": "pfx", "password": PASSWORD}),
    ("create-link", "POST", "links", {"name": f"{LINK}-new", "certificate": CERT}),
    ("put-binding", "PUT", f"apps/{APP}/bindings/{HOST}", {"link": LINK}),
]
# Routes whose body must be empty or {}; an empty body is valid and would start work, so it is not sent.
EMPTY_BODY_ROUTES: list[tuple[str, str, str]] = [
    ("renew", "POST", f"certificates/{CERT}/renew"),
    ("sync-cert", "POST", f"certificates/{CERT}/sync"),
    ("sync-link", "POST", f"links/{LINK}/sync"),
]
FIELDS: dict[str, list[str]] = {
    "create-cert": ["name", "hostnames", "keyType", "autoRenew", "issuer", "validityDays", "reuseKey", "renewBeforeDays"],
    "patch-cert": ["autoRenew"],
    "rekey": ["keyType"],
    "export": ["format", "password", "version", "encryption", "includeKey"],
    "create-link": ["name", "scope", "certificate", "keyVaultSecretId"],
    "put-binding": ["link", "sslState"],
}
# A body that is not JSON by its media type: 415 whatever it holds.
MEDIA_TYPES: list[tuple[str, dict[str, str]]] = [
    ("text-plain", {"Content-Type": "text/plain"}),
    ("form", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("multipart", {"Content-Type": "multipart/form-data; boundary=x"}),
    ("xml", {"Content-Type": "application/xml"}),
    ("none", {}),
    ("json-charset-utf16", {"Content-Type": "application/json; charset=utf-16"}),
    ("two-types", {"Content-Type": "application/json, text/plain"}),
]
RAW_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("invalid-json", b"{not json", JSON),
    ("truncated", b'{"name": "a', JSON),
    ("list", b"[]", JSON),
    ("string", b'"text"', JSON),
    ("number", b"12", JSON),
    ("null", b"null", JSON),
    ("true", b"true", JSON),
    ("nan", b"NaN", JSON),
    ("deep-array", b"[" * 30_000 + b"]" * 30_000, JSON),
    ("deep-object", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON),
    ("huge-number", b"9" * 60_000, JSON),
    ("over-64k", b'{"name":"' + b"a" * 70_000 + b'"}', JSON),
    ("invalid-utf8", b'{"name": "\xff\xfe"}', JSON),
    ("nul-bytes", b"\x00" * 64, JSON),
    ("bom-utf16", '{"x": 1}'.encode("utf-16"), JSON),
    ("lone-surrogate-escape", b'{"name": "\\udc00"}', JSON),
    ("duplicate-keys", b'{"x": 1, "x": 2}', JSON),
    ("form-encoded", b"name=a&hostnames=b", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("xml", b"<a/>", {"Content-Type": "application/xml"}),
    ("empty-text-plain", b"", {"Content-Type": "text/plain"}),
    ("whitespace-json", b" \n\t ", JSON),
]


def body_cases() -> list[Any]:
    cases = []
    for route, method, path, valid in BODY_ROUTES:
        for name, raw, headers in RAW_BODIES:
            if route == "rekey" and not raw.strip():
                continue  # an empty body is a valid rekey: it would start one
            cases.append(Case(f"{route}-body-{name}", method, path, raw=raw, headers=headers))
        for fieldname in FIELDS[route]:
            for value_id, value in NASTY_VALUES:
                cases.append(Case(f"{route}-{fieldname}-{value_id}", method, path, body={**valid, fieldname: value}))
        for name, headers in MEDIA_TYPES:
            raw = json.dumps(valid).encode()
            cases.append(Case(f"{route}-media-type-{name}", method, path, raw=raw, headers=headers, status=415))
        cases.append(Case(f"{route}-unknown-field", method, path, body={**valid, "zzz": 1}))
        cases.append(Case(f"{route}-bad-key-unicode", method, path, body={**valid, "\ud800": 1}))
    for route, method, path in EMPTY_BODY_ROUTES:
        for name, raw, headers in RAW_BODIES:
            if raw.strip():  # an empty body is valid here and would start work
                cases.append(Case(f"{route}-body-{name}", method, path, raw=raw, headers=headers))
        for value_id, value in NASTY_VALUES:
            cases.append(Case(f"{route}-field-{value_id}", method, path, body={"x": value}))
        for name, headers in MEDIA_TYPES:
            cases.append(Case(f"{route}-media-type-{name}", method, path, raw=b"{}", headers=headers, status=415))
    return cases


def extra_body_cases() -> list[Any]:
    """Combinations the per-field table does not reach."""
    export = f"certificates/{CERT}/export"
    cert = {"name": CERT, "hostnames": [HOST]}
    return [
        Case("export-pem-surrogate-password", "POST", export, {"format": "pem", "password": "\ud800" + "a" * 20}),
        Case("export-pfx-surrogate-password", "POST", export, {"format": "pfx", "password": "\udfff" + "a" * 20}),
        Case("export-legacy-surrogate-password", "POST", export, {"format": "pfx", "encryption": "legacy", "password": "a" * 12 + "\ud800"}),
        Case("export-version-newline", "POST", export, {"format": "pem", "includeKey": False, "version": "0" * 32 + "\n"}),
        Case("export-pem-no-key-with-junk-password", "POST", export, {"format": "pem", "includeKey": False, "password": ["x"]}),
        Case("export-pfx-without-key", "POST", export, {"format": "pfx", "includeKey": False, "password": PASSWORD}),
        *(
            Case(f"export-{fmt}-password-{pid}", "POST", export, {"format": fmt, "password": password})
            for fmt in ("pem", "pfx")
            for pid, password in (("1024-ascii", "R" * 1024), ("1024-bytes-e-acute", "\u00e9" * 512),
                                  ("1024-bytes-emoji", "\U0001F600" * 256))
        ),
        Case("create-cert-101-hostnames", "POST", "certificates", {**cert, "hostnames": [f"h{i}.example.com" for i in range(101)]}),
        Case("create-cert-duplicate-hostnames", "POST", "certificates", {**cert, "hostnames": [HOST, HOST.upper() + "."]}),
        Case("create-cert-hostname-types", "POST", "certificates", {**cert, "hostnames": [1, None, {}, []]}),
        Case("create-cert-hostname-surrogate", "POST", "certificates", {**cert, "hostnames": ["\ud800.example.com"]}),
        Case("create-cert-hostname-emoji", "POST", "certificates", {**cert, "hostnames": ["\U0001F600.example.com"]}),
        Case("create-cert-hostname-nul", "POST", "certificates", {**cert, "hostnames": ["a\x00.example.com"]}),
        Case("create-cert-hostname-ip", "POST", "certificates", {**cert, "hostnames": ["10.0.0.1"]}),
        Case("create-cert-hostname-long", "POST", "certificates", {**cert, "hostnames": ["a." * 200 + "com"]}),
        Case("create-cert-hostname-idna-long", "POST", "certificates", {**cert, "hostnames": ["\u00e9" * 300 + ".com"]}),
        Case("create-cert-acme-unconfigured", "POST", "certificates", {**cert, "name": MISSING, "issuer": "acme"}),
        Case("create-link-both-sources", "POST", "links", {"name": MISSING, "certificate": CERT, "keyVaultSecretId": "https://v.vault.azure.net/secrets/x"}),
        Case("create-link-no-source", "POST", "links", {"name": MISSING}),
        Case("create-link-existing", "POST", "links", {"name": LINK, "certificate": CERT}),
        Case("create-link-vault-closed-port", "POST", "links",
             {"name": MISSING, "keyVaultSecretId": f"https://127.0.0.1:{free_port()}/secrets/x"}, status=404),
        Case("create-link-vault-port-not-443", "POST", "links",
             {"name": MISSING, "keyVaultSecretId": "https://v.vault.azure.net:8443/secrets/x"}, status=400),
        *(
            Case(f"create-link-secret-id-{sid}", "POST", "links", {"name": MISSING, "keyVaultSecretId": value})
            for sid, value in SECRET_IDS
        ),
    ]


def path_cases() -> list[Any]:
    templates = [
        ("get-cert", "GET", "certificates/{}", None),
        ("patch-cert", "PATCH", "certificates/{}", {"autoRenew": True}),
        ("delete-cert", "DELETE", "certificates/{}", None),
        ("renew", "POST", "certificates/{}/renew", None),
        ("rekey", "POST", "certificates/{}/rekey", None),
        ("sync-cert", "POST", "certificates/{}/sync", None),
        ("export", "POST", "certificates/{}/export", {"format": "pem", "includeKey": False}),
        ("secret", "GET", "certificates/{}/secret", None),
        ("get-link", "GET", "links/{}", None),
        ("delete-link", "DELETE", "links/{}", None),
        ("sync-link", "POST", "links/{}/sync", None),
        ("get-op", "GET", "operations/{}", None),
        ("list-bindings", "GET", "apps/{}/bindings", None),
        ("put-binding-app", "PUT", "apps/{}/bindings/" + HOST, {"link": LINK}),
        ("delete-binding-app", "DELETE", "apps/{}/bindings/" + HOST, None),
    ]
    cases = []
    for route, method, template, body in templates:
        for seg_id, segment in NASTY_SEGMENTS:
            cases.append(Case(f"{route}-path-{seg_id}", method, template.format(segment), body))
    # A real name with a trailing newline: passes `^...$` checks but not Table Storage or Key Vault.
    for route, method, template, body in templates:
        real = {"apps": APP, "operations": OP_ID, "links": LINK}.get(template.split("/")[0], CERT)
        cases.append(Case(f"{route}-path-trailing-newline", method, template.format(real + "%0A"), body))
    for host_id, hostname in NASTY_HOSTNAMES:
        cases.append(Case(f"put-binding-host-{host_id}", "PUT", f"apps/{APP}/bindings/{hostname}", {"link": LINK}))
        cases.append(Case(f"delete-binding-host-{host_id}", "DELETE", f"apps/{APP}/bindings/{hostname}"))
    return cases


def query_cases() -> list[Any]:
    queries = [
        ("top-zero", "top=0"), ("top-huge", "top=99999999999999999999"), ("top-hex", "top=0x10"),
        ("top-float", "top=1e3"), ("top-nul", "top=%00"), ("top-empty", "top="), ("top-fullwidth", "top=%EF%BC%91"),
        ("kind-bad", "kind=party"), ("kind-empty", "kind="), ("target-odata", "target=x'%20or%20''%20eq%20'"),
        ("target-empty", "target="), ("target-twice", "target=a&target=b"), ("target-long", "target=" + "a" * 5000),
        ("target-newline", f"target={CERT}%0A"), ("target-emoji", "target=%F0%9F%98%80"), ("filter", "$filter=true"),
        ("bad-utf8-key", "%FF=%FF"), ("many-params", "&".join(f"p{i}=1" for i in range(500))),
    ]
    return [Case(f"operations-query-{qid}", "GET", f"operations?{q}") for qid, q in queries] + [
        Case(f"list-certs-query-{qid}", "GET", f"certificates?{q}") for qid, q in queries[:3]
    ]


def header_cases() -> list[Any]:
    sync = f"certificates/{MISSING}/sync"  # requested_by is read before the certificate is looked up
    docs = [
        ("not-base64", "!!!not base64!!!"),
        ("not-json", base64.b64encode(b"\xff\xfe").decode()),
        ("json-list", principal([1, 2])),
        ("claims-not-list", principal({"claims": "x"})),
        ("claim-not-dict", principal({"claims": [1, "x", None]})),
        ("claim-object-value", principal({"claims": [{"typ": "name", "val": {"a": 1}}]})),
        ("surrogate-name", principal({"name_typ": "name", "claims": [{"typ": "name", "val": "\ud800"}]})),
        ("nul-name", principal({"claims": [{"typ": "name", "val": "a\x00b"}]})),
        ("long-name", principal({"claims": [{"typ": "name", "val": "n" * 4000}]})),
    ]
    cases = [Case(f"principal-{pid}", "POST", sync, headers={"X-MS-CLIENT-PRINCIPAL": value}) for pid, value in docs]
    cases += [
        Case("principal-name-latin1", "POST", sync, headers={"X-MS-CLIENT-PRINCIPAL-NAME": "\xff\xfe" * 50}),
        Case("content-type-garbage", "POST", "certificates", raw=b'{"name": 1}', headers={"Content-Type": ";;;==="}),
        Case("content-type-json-charset-latin1", "POST", "certificates", raw='{"name": "\xe9"}'.encode("latin-1"),
             headers={"Content-Type": "application/json; charset=latin-1"}),
    ]
    return cases


def method_cases() -> list[Any]:
    wrong = [("PUT", "certificates"), ("DELETE", "certificates"), ("PATCH", "links"), ("POST", f"certificates/{CERT}"),
             ("PUT", f"links/{LINK}"), ("GET", f"certificates/{CERT}/renew"), ("POST", "operations"),
             ("OPTIONS", "certificates"), ("HEAD", "links")]
    return [Case(f"method-{m.lower()}-{p.split('/')[0]}", m, p, unrouted=True) for m, p in wrong]


ALL_CASES = [
    *(c.param() for c in body_cases()),
    *(c.param() for c in extra_body_cases()),
    *(c.param() for c in path_cases()),
    *(c.param() for c in query_cases()),
    *(c.param() for c in header_cases()),
    *(c.param() for c in method_cases()),
    Case("method-trace", "TRACE", "certificates", unrouted=True).param(),
]


# --- the test --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reachable(api) -> None:
    """An issued certificate, a link to it and a binding, so valid requests reach deep code."""
    created = api.call("POST", "certificates", {"name": CERT, "hostnames": [HOST, f"*.fz-{SUFFIX}.example.com"], "keyType": "EC256"})
    op = api.wait_operation(created)
    assert op["status"] == "Succeeded", op
    link = api.call("POST", "links", {"name": LINK, "certificate": CERT})
    assert link.status_code == 201, link.text
    binding = api.call("PUT", f"apps/{APP}/bindings/{HOST}", {"link": LINK})
    assert binding.status_code == 201, binding.text


def send(api, case: Case) -> requests.Response:
    """One fresh connection per request. Kept-alive connections are slow against the local host
    (its separate header and body writes meet Nagle's algorithm and delayed ACKs: ~40 ms a request)
    and, with `Connection: close`, a pooled socket the host is just closing fails at random."""
    kwargs: dict[str, Any] = {"headers": {"Connection": "close", **case.headers}, "timeout": 30}
    if case.raw is not None:
        kwargs["data"] = case.raw
    elif case.body is not None:
        kwargs["json"] = case.body
    with requests.Session() as session:
        return session.request(case.method, f"{api.base}/api/{case.path}", **kwargs)


@pytest.mark.parametrize("case", ALL_CASES)
def test_hostile_input_gets_a_clean_answer(api, reachable, case: Case):
    response = send(api, case)
    what = f"{case.method} /api/{case.path[:120]} -> {response.status_code} {response.text[:300]!r}"
    assert response.status_code < 500, what
    if case.status is not None:
        assert response.status_code == case.status, what
    assert "Traceback" not in response.text and 'File "' not in response.text, what
    if 400 <= response.status_code < 500:
        if case.unrouted and response.status_code == 404 and not response.content:
            return  # the host's own answer when no function is routed to the path and method
        assert response.headers.get("Content-Type", "").startswith("application/json"), what
        error = response.json().get("error")
        assert isinstance(error, dict), what
        assert isinstance(error.get("code"), str) and error["code"], what
        assert isinstance(error.get("message"), str) and error["message"], what
        assert len(error["message"]) <= 1000, f"the message echoes too much input: {what}"


def test_caller_names_come_back_as_valid_unicode(api, reachable):
    """The principal header is the caller's to write: a lone surrogate in its name claim must not
    be stored and served back as `"\\ud800"`, which strict JSON readers (Rust, Go) refuse."""
    header = principal({"name_typ": "name", "claims": [{"typ": "name", "val": "ada\ud800"}]})
    started = api.call("POST", f"certificates/{CERT}/sync", headers={"X-MS-CLIENT-PRINCIPAL": header, "Connection": "close"})
    assert started.status_code == 202, started.text
    op = api.call("GET", started.headers["Location"].removeprefix("/api/"), headers={"Connection": "close"}).json()
    json.dumps(op, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate


# Framing the host cannot read whole: (id, headers, what is sent before our side closes).
BROKEN_FRAMING: list[tuple[str, str, bytes | None]] = [
    ("chunk-size-not-hex", "Transfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n"),
    ("chunk-cut-short", "Transfer-Encoding: chunked", b"ff\r\n{}"),
    ("body-shorter-than-length", "Content-Length: 500", None),
    ("length-and-chunked", "Content-Length: 10\r\nTransfer-Encoding: chunked", None),
]


@pytest.mark.parametrize(
    "headers,body", [(h, b) for _, h, b in BROKEN_FRAMING], ids=[i for i, _, _ in BROKEN_FRAMING]
)
def test_broken_framing_never_creates_anything(api, reachable, headers: str, body: bytes | None):
    """Raw sockets: a request the host cannot read whole is 400 (or no answer, the client being
    gone) and never reaches the function: the certificate it names is not created."""
    name = f"{MISSING}-{os.urandom(2).hex()}"
    payload = json.dumps({"name": name, "hostnames": [HOST]}).encode()
    url = urlsplit(api.base)
    head = (f"POST /api/certificates HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\n{headers}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head + (body if body is not None else payload))
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert api.call("GET", f"certificates/{name}").status_code == 404
