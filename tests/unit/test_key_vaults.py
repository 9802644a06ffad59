"""KEY_VAULT_URLS and KEY_VAULT_RESOURCE_IDS are read and checked at start; a certificate names a
vault by URL (any spelling) or short name."""
from __future__ import annotations

import pytest

from shared.settings import Settings, SettingsError

SUB = "11111111-1111-1111-1111-111111111111"
AZURE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "KEY_VAULT_URL": "https://main-kv.vault.azure.net",
    "OPERATIONS_QUEUE": "certsync-operations",
    "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
    "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
}
LOCAL = {**AZURE, "KEY_VAULT_URL": "https://127.0.0.1:8443"}


def vault_id(name: str, group: str = "rg") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"


def test_one_vault_by_default():
    (only,) = Settings.from_env(AZURE).vaults
    assert (only.url, only.name, only.is_default) == ("https://main-kv.vault.azure.net", "main-kv", True)


def test_more_vaults_in_order_with_their_resource_ids():
    s = Settings.from_env({
        **AZURE,
        "KEY_VAULT_URLS": " https://Shop-KV.vault.azure.net/ , https://ops-kv.vault.azure.net:443",
        "KEY_VAULT_RESOURCE_IDS": f"{vault_id('shop-kv')},{vault_id('ops-kv', 'ops')}",
    })
    assert [(v.url, v.name, v.resource_id) for v in s.vaults[1:]] == [
        ("https://shop-kv.vault.azure.net", "shop-kv", vault_id("shop-kv")),
        ("https://ops-kv.vault.azure.net", "ops-kv", vault_id("ops-kv", "ops")),
    ]
    assert s.vault_named("ops-kv") is s.vault_named("https://OPS-kv.vault.azure.net/") is s.vaults[2]
    assert s.vault_named("main-kv") is s.vaults[0] and s.vault_named("nope") is None


def test_a_local_emulator_is_named_by_its_resource_id():
    s = Settings.from_env({**LOCAL, "KEY_VAULT_URLS": "https://127.0.0.1:9443",
                           "KEY_VAULT_RESOURCE_IDS": vault_id("second")})
    assert s.vault_named("second") is s.vaults[1] and s.vaults[1].url == "https://127.0.0.1:9443"


@pytest.mark.parametrize(
    "base,override,says",
    [
        (AZURE, {"KEY_VAULT_URLS": "http://shop-kv.vault.azure.net"}, "KEY_VAULT_URLS"),
        (AZURE, {"KEY_VAULT_URLS": "https://shop-kv.vault.azure.net/secrets"}, "KEY_VAULT_URLS"),
        (AZURE, {"KEY_VAULT_URLS": "https://evil.example.com"}, "Azure Key Vault"),
        (AZURE, {"KEY_VAULT_URLS": "https://shop-kv.vault.azure.net:8443"}, "Azure Key Vault"),
        (AZURE, {"KEY_VAULT_URLS": "https://127.0.0.1:9443"}, "Azure Key Vault"),
        (LOCAL, {"KEY_VAULT_URLS": "https://shop-kv.vault.azure.net"}, "local emulator"),
        (AZURE, {"KEY_VAULT_URLS": "https://main-kv.vault.azure.net"}, "listed twice"),
        (AZURE, {"KEY_VAULT_URLS": "https://a-kv.vault.azure.net,https://a-kv.vault.azure.net"}, "listed twice"),
        (AZURE, {"KEY_VAULT_URLS": "https://main-kv.vault.azure.cn"}, "named main-kv"),
        (AZURE, {"KEY_VAULT_URLS": "https://a-kv.vault.azure.net,https://b-kv.vault.azure.net",
                 "KEY_VAULT_RESOURCE_IDS": vault_id("a-kv")}, "same order"),
        (AZURE, {"KEY_VAULT_URLS": "https://a-kv.vault.azure.net,https://b-kv.vault.azure.net",
                 "KEY_VAULT_RESOURCE_IDS": f"{vault_id('b-kv')},{vault_id('a-kv')}"}, "same order"),
        (AZURE, {"KEY_VAULT_URLS": "https://a-kv.vault.azure.net",
                 "KEY_VAULT_RESOURCE_IDS": "/subscriptions/x/vaults/a-kv"}, "KEY_VAULT_RESOURCE_IDS"),
        (AZURE, {"KEY_VAULT_URLS": "https://a-kv.vault.azure.net", "APP_SERVICE_SUBSCRIPTIONS": SUB,
                 "KEY_VAULT_RESOURCE_ID": vault_id("main-kv")}, "KEY_VAULT_RESOURCE_IDS"),
    ],
)
def test_a_bad_vault_setting_stops_the_start_naming_it(base, override, says):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**base, **override})
    assert says in str(err.value)
