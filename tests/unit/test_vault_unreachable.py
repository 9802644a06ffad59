"""The Key Vault adapter over the real SDK and sockets: where no vault can be (a name that does
not resolve, a closed port) it fails at once with code VaultUnreachable, without the SDK's
retries; a temporary DNS failure is an outage, retried and reported as such.

The resolver is the one thing replaced (tests send nothing beyond loopback): it answers for
`*.vault.azure.net` as a DNS server would, and counts the lookups, one per connection attempt."""
from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from azure.keyvault.secrets import SecretClient

from devtools.processes import free_port
from shared.credentials import EmulatorCredential
from shared.errors import DependencyError
from shared.vault import VAULT_UNREACHABLE, NoRetryWhereNoVault, Vault

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], list[str]]:
    """Install a resolver where names under vault.azure.net fail with `errno`; returns its log."""
    seen: list[str] = []

    def install(errno: int) -> list[str]:
        def resolve(host: str, *args: object, **kwargs: object) -> object:
            seen.append(host)
            if host.endswith(".vault.azure.net"):
                raise socket.gaierror(errno, "resolver says no")
            return REAL_GETADDRINFO(host, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        return seen

    return install


def vault(url: str) -> Vault:
    policy = NoRetryWhereNoVault(retry_backoff_factor=0.01)  # an outage is still retried, quickly here
    return Vault(SecretClient(url, EmulatorCredential(), verify_challenge_resource=False, retry_policy=policy))


@pytest.mark.parametrize(
    "url_of",
    [lambda: "https://no-such-vault.vault.azure.net", lambda: f"https://127.0.0.1:{free_port()}"],
    ids=["no-such-name", "closed-port"],
)
def test_where_no_vault_is_one_attempt_and_vault_unreachable(lookups, url_of) -> None:
    seen = lookups(socket.EAI_NONAME)
    url = url_of()
    with pytest.raises(DependencyError) as caught:
        vault(url).get_secret("shop")
    assert caught.value.code == VAULT_UNREACHABLE
    assert caught.value.message == f"no Key Vault answers at {url}"
    assert len(seen) == 1  # no retry


def test_a_temporary_dns_failure_is_an_outage_and_retried(lookups) -> None:
    seen = lookups(socket.EAI_AGAIN)
    with pytest.raises(DependencyError) as caught:
        vault("https://maybe.vault.azure.net").get_secret("shop")
    assert caught.value.code == "DependencyUnavailable"
    assert len(seen) == 4  # the first attempt and the SDK's three connection retries
