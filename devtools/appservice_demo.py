"""`make run` walkthrough: do in the ARM emulator what a user does in the portal.

    python -m devtools.appservice_demo site <certificate>               # group demo, a plan, app <certificate>-app
    python -m devtools.appservice_demo create <certificate> <hostname>  # that app, import cert-<certificate>, bind
    python -m devtools.appservice_demo show <certificate>               # ARM's thumbprints

Plain azure-mgmt-web calls against https://127.0.0.1:8444 (subscription 11111111-...).
"""
from __future__ import annotations

import sys
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import (
    AppServicePlan,
    Certificate,
    CertificateProperties,
    HostNameBinding,
    HostNameBindingProperties,
    Site,
    SiteProperties,
    SkuDescription,
)

from shared.credentials import EmulatorCredential

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
GROUP, LOCATION = "demo", "westeurope"
ARM = {"base_url": "https://127.0.0.1:8444", "connection_verify": ".data/arm/emulator-cert.pem"}


def site(web: WebSiteManagementClient, certificate: str, arm: dict[str, Any]) -> str:
    """The app `<certificate>-app` in resource group demo; returns its plan's id."""
    with ResourceManagementClient(EmulatorCredential(), SUBSCRIPTION, **arm) as groups:
        groups.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    sku = SkuDescription(name="S1", tier="Standard")
    plan = web.app_service_plans.begin_create_or_update(GROUP, "plan", AppServicePlan(location=LOCATION, sku=sku))
    plan_id = plan.result().id or ""
    app = Site(location=LOCATION, properties=SiteProperties(server_farm_id=plan_id))
    web.web_apps.begin_create_or_update(GROUP, f"{certificate}-app", app).result()
    print(f"app {certificate}-app in resource group {GROUP}")
    return plan_id


def create(web: WebSiteManagementClient, certificate: str, hostname: str, arm: dict[str, Any]) -> int:
    plan_id = site(web, certificate, arm)
    imported = CertificateProperties(
        key_vault_id=VAULT_ID, key_vault_secret_name=f"cert-{certificate}", server_farm_id=plan_id
    )
    cert = web.certificates.create_or_update(GROUP, certificate, Certificate(location=LOCATION, properties=imported))
    print(f"certificate {cert.id}: {_text(cert.key_vault_secret_status)} {cert.thumbprint}")
    if not cert.thumbprint:
        print(f"nothing to bind: App Service could not import the secret cert-{certificate} "
              f"(issue it first: POST /api/certificates {{\"name\": \"{certificate}\", ...}})", file=sys.stderr)
        return 1
    ssl = HostNameBindingProperties(ssl_state="SniEnabled", thumbprint=cert.thumbprint)
    web.web_apps.create_or_update_host_name_binding(
        GROUP, f"{certificate}-app", hostname, HostNameBinding(properties=ssl)
    )
    print(f"bound {hostname}; served on https://{hostname}:8445 (curl -k --resolve {hostname}:8445:127.0.0.1)")
    return 0


def show(web: WebSiteManagementClient, certificate: str) -> None:
    cert = web.certificates.get(GROUP, certificate)
    print(f"certificate {certificate}: {cert.thumbprint} ({_text(cert.key_vault_secret_status)})")
    for binding in web.web_apps.list_host_name_bindings(GROUP, f"{certificate}-app"):
        if binding.thumbprint:
            print(f"binding {binding.name}: {binding.thumbprint}")


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


def main(argv: list[str], arm: dict[str, Any] | None = None) -> int:
    """Run one command; ARM's refusal (or no emulator at all) is one line on stderr and exit 1, not a traceback."""
    arity = {"site": 2, "create": 3, "show": 2}
    if not argv or arity.get(argv[0]) != len(argv):
        print(__doc__, file=sys.stderr)
        return 2
    arm = arm or ARM
    try:
        with WebSiteManagementClient(EmulatorCredential(), SUBSCRIPTION, **arm) as web:
            if argv[0] == "site":
                site(web, argv[1], arm)
            elif argv[0] == "create":
                return create(web, argv[1], argv[2], arm)
            else:
                show(web, argv[1])
    except HttpResponseError as err:
        print(f"appservice_demo: ARM refused: {err.message.splitlines()[0]}", file=sys.stderr)
        return 1
    except AzureError as err:
        print(f"appservice_demo: no ARM emulator at {arm['base_url']} (is `make run` running?): {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
