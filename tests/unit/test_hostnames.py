"""Hostname normalisation and SAN coverage: the decisions every binding and link relies on."""
from __future__ import annotations

import pytest

from shared.errors import BadRequest
from shared.hostnames import covers, normalize_hostname, normalize_hostnames


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("example.com", "example.com"),
        ("  WWW.Example.COM  ", "www.example.com"),
        ("example.com.", "example.com"),
        ("*.example.com", "*.example.com"),
        ("*.Example.com.", "*.example.com"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("123.example.com", "123.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("ｅｘａｍｐｌｅ。com", "example.com"),  # full-width letters and dot, as UTS 46 maps them
        ("a" * 63 + ".example", "a" * 63 + ".example"),
        (".".join(["a" * 62] * 4), ".".join(["a" * 62] * 4)),  # 251 characters
    ],
)
def test_normalize_hostname(raw: str, expected: str) -> None:
    assert normalize_hostname(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "exa mple.com",
        "x' or PartitionKey ne '",
        "example.com' or '1'='1",
        "under_score.example.com",
        "localhost",
        "com",
        "*.com",
        "*",
        "*.",
        "a.*.com",
        "*.*.example.com",
        "*a.example.com",
        "-a.com",
        "a-.com",
        "a..com",
        ".example.com",
        "example.com..",
        "a" * 64 + ".com",
        ".".join(["a" * 63] * 4),  # 255 characters
        "192.168.1.10",
        "::1",
        "[2001:db8::1]",
        "example.123",
        "xn--zz.example",
        "exa\u0000mple.com",
        "exa\nmple.com",
        "ex/ample.com",
        "https://example.com",
        "example.com:443",
        "b\u00fccher\u2028.example",
    ],
)
def test_normalize_hostname_rejects(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        normalize_hostname(raw)
    assert caught.value.code == "InvalidHostname"


def test_rejection_names_the_value_and_is_bounded() -> None:
    with pytest.raises(BadRequest) as caught:
        normalize_hostname("bad host.example")
    assert "'bad host.example'" in caught.value.message

    with pytest.raises(BadRequest) as caught:
        normalize_hostname("x' or PartitionKey ne '")
    assert "letters, digits" in caught.value.message

    with pytest.raises(BadRequest) as caught:
        normalize_hostname("x" * 5000 + " y")
    assert len(caught.value.message) < 300


def test_non_text_is_rejected() -> None:
    with pytest.raises(BadRequest) as caught:
        normalize_hostname(42)  # type: ignore[arg-type]
    assert caught.value.code == "InvalidHostname"


def test_normalize_hostnames_keeps_order() -> None:
    assert normalize_hostnames(["WWW.example.com", "example.com", "*.example.com"]) == (
        "www.example.com",
        "example.com",
        "*.example.com",
    )


@pytest.mark.parametrize(
    "raws, code",
    [
        ([], "InvalidHostnameCount"),
        ([f"h{i}.example.com" for i in range(101)], "InvalidHostnameCount"),
        (["example.com", "EXAMPLE.com."], "DuplicateHostname"),
        (["bücher.example", "xn--bcher-kva.example"], "DuplicateHostname"),
        (["example.com", "bad name"], "InvalidHostname"),
        ("example.com", "InvalidHostname"),  # a bare string, not a list
    ],
)
def test_normalize_hostnames_rejects(raws, code: str) -> None:
    with pytest.raises(BadRequest) as caught:
        normalize_hostnames(raws)
    assert caught.value.code == code


def test_normalize_hostnames_accepts_one_hundred() -> None:
    assert len(normalize_hostnames(f"h{i}.example.com" for i in range(100))) == 100


@pytest.mark.parametrize(
    "names, hostname, expected",
    [
        (["example.com"], "example.com", True),
        (["example.com"], "EXAMPLE.com", True),
        (["Example.COM"], "example.com.", True),
        (["example.com"], "www.example.com", False),
        (["www.example.com"], "example.com", False),
        (["*.example.com"], "a.example.com", True),
        (["*.example.com"], "A.Example.Com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "a.example.org", False),
        (["*.example.com"], "aexample.com", False),
        (["*.example.com"], "*.example.com", True),
        (["a.example.com"], "*.example.com", False),
        (["*.com"], "example.com", False),
        (["*.b.example.com"], "a.b.example.com", True),
        (["example.com", "*.example.com"], "example.com", True),
        (["example.com", "*.example.com"], "x.example.com", True),
        ([], "example.com", False),
        (["example.com"], "", False),
    ],
)
def test_covers(names: list[str], hostname: str, expected: bool) -> None:
    assert covers(names, hostname) is expected
