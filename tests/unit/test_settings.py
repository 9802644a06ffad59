"""Settings are validated at start with messages that name the setting."""
from __future__ import annotations

import pytest

from shared.settings import Settings, SettingsError

BASE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "KEY_VAULT_URL": "https://127.0.0.1:8443",
    "OPERATIONS_QUEUE": "certsync-operations",
    "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
    "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
}


def test_defaults():
    s = Settings.from_env(BASE)
    assert s.auto_renew_schedule == "0 0 */8 * * *"
    assert s.sync_sweep_interval_hours == 48 and s.auto_sync_after_renewal
    assert s.vault_is_local_emulator
    assert s.operation_retention_days == 30


def test_azure_vault_is_not_the_emulator():
    s = Settings.from_env({**BASE, "KEY_VAULT_URL": "https://contoso.vault.azure.net/"})
    assert not s.vault_is_local_emulator and s.key_vault_url == "https://contoso.vault.azure.net"


@pytest.mark.parametrize(
    "override,named",
    [
        ({"AzureWebJobsStorage": ""}, "AzureWebJobsStorage"),
        ({"KEY_VAULT_URL": "http://vault"}, "KEY_VAULT_URL"),
        ({"SYNC_SWEEP_INTERVAL_HOURS": "soon"}, "SYNC_SWEEP_INTERVAL_HOURS"),
        ({"LOCAL_CA_VALIDITY_DAYS": "400"}, "LOCAL_CA_VALIDITY_DAYS"),
        ({"AUTO_SYNC_AFTER_RENEWAL": "maybe"}, "AUTO_SYNC_AFTER_RENEWAL"),
        ({"DNS_PROVIDER": "route53"}, "DNS_PROVIDER"),
        ({"CERTSYNC_TABLE_PREFIX": "bad-prefix"}, "CERTSYNC_TABLE_PREFIX"),
        ({"DNS_PROVIDER": "challtestsrv"}, "DNS_PROVIDER"),  # the test double is not an app setting
        ({"OPERATIONS_QUEUE": ""}, "OPERATIONS_QUEUE"),  # resolved by the host too: never defaulted
        ({"OPERATIONS_QUEUE": "Ops_Queue"}, "OPERATIONS_QUEUE"),
        ({"AUTO_RENEW_SCHEDULE": ""}, "AUTO_RENEW_SCHEDULE"),
        ({"AUTO_RENEW_SCHEDULE": "every 8 hours"}, "AUTO_RENEW_SCHEDULE"),
        ({"SYNC_SWEEP_SCHEDULE": "0 */15 * * *"}, "SYNC_SWEEP_SCHEDULE"),  # five fields: not NCRONTAB
        ({"OPERATION_RETENTION_DAYS": "0"}, "OPERATION_RETENTION_DAYS"),
        ({"OPERATION_RETENTION_DAYS": "a month"}, "OPERATION_RETENTION_DAYS"),
    ],
)
def test_bad_settings_name_the_setting(override, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({**BASE, **override})


A, B, C = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "abc")


def test_azure_dns_scopes_from_the_pair_and_the_list():
    s = Settings.from_env(
        {
            **BASE,
            "AZURE_DNS_SUBSCRIPTION_ID": A,
            "AZURE_DNS_RESOURCE_GROUP": "dns",
            "AZURE_DNS_ZONE_SCOPES": f" {A}/dns , {B}/zones-b,{C} ",
        }
    )
    assert [(x.subscription, x.resource_group) for x in s.azure_dns_scopes] == [(A, "dns"), (B, "zones-b"), (C, "")]
    assert Settings.from_env(BASE).azure_dns_scopes == ()
    with pytest.raises(SettingsError, match="AZURE_DNS_ZONE_SCOPES entry 'not-a-sub/dns'"):
        Settings.from_env({**BASE, "AZURE_DNS_ZONE_SCOPES": "not-a-sub/dns"})
