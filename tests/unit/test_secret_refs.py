"""Secret ids: one spelling per vault, so a link is found by its certificate's overview, by sync
and by the delete check however the caller wrote the vault's address."""
from __future__ import annotations

import pytest

from shared.errors import BadRequest
from shared.secret_refs import check_vault_host, parse_secret_id

LOCAL = "https://127.0.0.1:8443"


@pytest.mark.parametrize(
    "written,vault_url",
    [
        ("https://127.0.0.1:8443/secrets/x", LOCAL),
        ("https://127.0.0.01:8443/secrets/x", LOCAL),
        ("https://127.1:8443/secrets/x", LOCAL),
        ("https://127.0.1:8443/secrets/x", LOCAL),
        ("https://0x7f.0.0.1:8443/secrets/x", LOCAL),
        ("https://0X7F.0x0.0.0x01:8443/secrets/x", LOCAL),
        ("https://0177.0.0.1:8443/secrets/x", LOCAL),
        ("https://2130706433:8443/secrets/x", LOCAL),
        ("https://0x7f000001:8443/secrets/x", LOCAL),
        ("https://127.0.0.1.:8443/secrets/x", LOCAL),
        ("https://[::ffff:127.0.0.1]:8443/secrets/x", LOCAL),
        ("https://[::FFFF:7f00:1]:8443/secrets/x", LOCAL),
        ("https://127.0.0.1:08443/secrets/x", LOCAL),
        ("HTTPS://127.0.0.1:8443/secrets/x", LOCAL),
        ("https://127.0.0.1:443/secrets/x", "https://127.0.0.1"),
        ("https://[0:0:0:0:0:0:0:1]:8443/secrets/x", "https://[::1]:8443"),
        ("https://[::1]:8443/secrets/x", "https://[::1]:8443"),
        ("https://Contoso.Vault.Azure.NET./secrets/x", "https://contoso.vault.azure.net"),
        ("https://contoso.vault.azure.net:443/secrets/x", "https://contoso.vault.azure.net"),
        ("https://contoso.vault.azure.net:8443/secrets/x", "https://contoso.vault.azure.net:8443"),
        ("https://1contoso.vault.azure.net/secrets/x", "https://1contoso.vault.azure.net"),
    ],
)
def test_every_spelling_of_a_vault_is_stored_one_way(written, vault_url):
    ref = parse_secret_id(written)
    assert ref.vault_url == vault_url
    assert ref.id == f"{vault_url}/secrets/x"
    assert parse_secret_id(ref.id) == ref  # canonical ids read back unchanged


@pytest.mark.parametrize(
    "written",
    [
        "https://127.0.0.256:8443/secrets/x",
        "https://127.0.0.1.1:8443/secrets/x",
        "https://127.0.0.08:8443/secrets/x",  # 08 is not octal
        "https://0x7g.0.0.1:8443/secrets/x",
        "https://127.16777216:8443/secrets/x",
        "https://4294967296:8443/secrets/x",
        "https://127.0.0.1..:8443/secrets/x",
        "https://vault.azure.net..:8443/secrets/x",
        "https://[fe80::1%25eth0]:8443/secrets/x",
        "https://[::1.2.3]:8443/secrets/x",
        "https://a..vault.azure.net/secrets/x",
    ],
)
def test_malformed_addresses_are_refused(written):
    with pytest.raises(BadRequest) as caught:
        parse_secret_id(written)
    assert caught.value.code == "InvalidSecretId"


@pytest.mark.parametrize(
    "url,emulator,allowed",
    [
        ("https://0x7f.1:8443/secrets/x", True, True),
        ("https://[::1]:8443/secrets/x", True, True),
        ("https://[::ffff:127.0.0.1]:8443/secrets/x", True, True),
        ("https://127.evil.example:8443/secrets/x", True, False),  # a name, not a loopback address
        ("https://127.0.0.1.evil.example/secrets/x", True, False),
        ("https://[::ffff:10.0.0.1]:8443/secrets/x", True, False),
        ("https://0x7f.1:8443/secrets/x", False, False),
        ("https://contoso.vault.azure.net./secrets/x", False, True),
        ("https://contoso.vault.azure.net:443/secrets/x", False, True),
        ("https://contoso.vault.azure.net:8443/secrets/x", False, False),  # Key Vault listens on 443 only
        ("https://contoso.vault.azure.net:22/secrets/x", True, False),
    ],
)
def test_only_loopback_addresses_count_as_the_local_emulator(url, emulator, allowed):
    ref = parse_secret_id(url)
    if allowed:
        check_vault_host(ref, emulator)
    else:
        with pytest.raises(BadRequest):
            check_vault_host(ref, emulator)
