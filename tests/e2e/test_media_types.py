"""End to end over real HTTP: a JSON API reads JSON bodies only. A body of another media type
(or of none) is refused with 415 before anything is parsed or started."""
from __future__ import annotations

import json

import pytest
import requests

REFUSED = [
    ("text-plain", "text/plain"),
    ("form", "application/x-www-form-urlencoded"),
    ("multipart", "multipart/form-data; boundary=x"),
    ("xml", "application/xml"),
    ("none", None),
    ("json-latin1", "application/json; charset=latin-1"),
    ("jsonish", "application/jsonp"),
    ("garbage", ";;;==="),
]
ACCEPTED = [
    ("json", "application/json"),
    ("json-utf8", "application/json; charset=utf-8"),
    ("json-upper-quoted", 'Application/JSON; Charset="UTF-8"'),
    ("merge-patch", "application/merge-patch+json"),
]


def post_raw(api, method: str, path: str, body: bytes, content_type: str | None) -> requests.Response:
    headers = {"Connection": "close"} | ({"Content-Type": content_type} if content_type is not None else {})
    with requests.Session() as session:
        return session.request(method, f"{api.base}/api/{path}", data=body, headers=headers, timeout=30)


def assert_415(response: requests.Response) -> None:
    assert response.status_code == 415, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "UnsupportedMediaType"


@pytest.mark.parametrize("content_type", [c for _, c in REFUSED], ids=[i for i, _ in REFUSED])
def test_create_with_a_non_json_body_is_415_and_creates_nothing(api, unique, content_type):
    name = f"mt-{unique}"
    body = json.dumps({"name": name, "hostnames": [f"{name}.example.com"]}).encode()
    assert_415(post_raw(api, "POST", "certificates", body, content_type))
    assert api.call("GET", f"certificates/{name}").status_code == 404


@pytest.mark.parametrize("content_type", [c for _, c in REFUSED], ids=[i for i, _ in REFUSED])
def test_renew_with_a_non_json_body_is_415_and_starts_nothing(api, unique, content_type):
    # The certificate does not exist: a body that got through would answer 404, not 415.
    assert_415(post_raw(api, "POST", f"certificates/missing-{unique}/renew", b"{}", content_type))


@pytest.mark.parametrize("content_type", [c for _, c in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_json_media_types_are_read(api, unique, content_type):
    response = post_raw(api, "PATCH", f"certificates/missing-{unique}", b'{"autoRenew": false}', content_type)
    assert response.status_code == 404, response.text[:300]
    assert response.json()["error"]["code"] == "CertificateNotFound"


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_an_empty_body_needs_no_media_type(api, unique, content_type):
    response = post_raw(api, "POST", f"certificates/missing-{unique}/renew", b"", content_type)
    assert response.status_code == 404, response.text[:300]
