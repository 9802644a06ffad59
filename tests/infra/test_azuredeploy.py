"""infra/azuredeploy.json against the app: what the code reads and does is what the template sets up.

No Bicep compiler or Azure subscription is available here, so the ARM JSON is what these tests
check: settings the app reads (found by running the app's own settings reader and trigger
bindings), permissions it uses (shared/azure_rbac.py) against the roles the template assigns,
the identity-based storage settings, no secret anywhere, and the template's own form.
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from devtools.local_host.ncrontab import CronSchedule
from shared.azure_rbac import PERMISSIONS, Scope, actions_at
from shared.settings import Settings
from tests.infra.arm_template import REPO, Evaluator, app_settings, is_expression, load_template

BUILTIN_ROLES = json.loads((Path(__file__).parent / "builtin_roles.json").read_text(encoding="utf-8"))["roles"]
DEPLOYMENT_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
SUBSCRIPTION_SCHEMA = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
# Read by the app but deliberately not set in Azure, each for a reason.
LOCAL_ONLY = {
    "AzureWebJobsStorage": "the connection-string form; Azure uses the identity-based AzureWebJobsStorage__*",
    "KEY_VAULT_EMULATOR_CERT": "trusted only for a loopback vault (the local emulator)",
    "STORAGE_EMULATOR_CERT": "trusted only for loopback storage (Azurite over HTTPS)",
    "ARM_EMULATOR_CERT": "trusted only for a loopback ARM endpoint (the local ARM emulator)",
    "ACME_CA_BUNDLE": "a private ACME CA's TLS bundle (Pebble in the tests)",
    "CHALLTESTSRV_URL": "the test DNS server; Azure uses DNS_PROVIDER=azure",
}
SETTING_EXPRESSION = re.compile(r"%([^%]+)%")
QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


class RecordingEnv(Mapping[str, str]):
    """App settings that remember which names the app looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@functools.lru_cache(maxsize=1)
def _function_json() -> str:
    # In a child process: the app's FunctionApp refuses a second get_functions() in one process
    # (tests/unit/test_openapi_document.py makes the first).
    script = "import json, function_app; print(json.dumps([json.loads(f.get_function_json()) "
    script += "for f in function_app.app.get_functions()]))"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def trigger_bindings() -> list[dict[str, Any]]:
    """Every trigger binding of function_app.app, as the Functions host indexes them."""
    functions = json.loads(_function_json())
    return [b for f in functions for b in f["bindings"] if b["type"].endswith("Trigger")]


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["resources"] if r["type"] == kind]


def the_site(template: dict[str, Any]) -> dict[str, Any]:
    [site] = resources(template, "Microsoft.Web/sites")
    return site


# ------------------------------------------------------------------ the template's form


def templates_in(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield template
    for deployment in resources(template, "Microsoft.Resources/deployments"):
        yield deployment["properties"]["template"]


def test_valid_deployment_template(template):
    assert template["$schema"] == DEPLOYMENT_SCHEMA
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", template["contentVersion"])
    for inner in templates_in(template):
        assert inner["$schema"] in (DEPLOYMENT_SCHEMA, SUBSCRIPTION_SCHEMA)
        assert {"$schema", "contentVersion", "resources"} <= set(inner)
        allowed = {"$schema", "contentVersion", "apiProfile", "parameters", "variables", "functions", "resources",
                   "outputs", "metadata", "definitions", "languageVersion"}
        assert set(inner) <= allowed
        for resource in inner["resources"]:
            assert {"type", "apiVersion", "name"} <= set(resource), resource
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", resource["apiVersion"])


def test_every_parameter_has_a_description(template):
    for inner in templates_in(template):
        for name, parameter in inner.get("parameters", {}).items():
            assert parameter.get("metadata", {}).get("description", "").strip(), name
            if "defaultValue" in parameter and "allowedValues" in parameter:
                assert parameter["defaultValue"] in parameter["allowedValues"], name


def test_parameters_referenced_exist_and_every_parameter_is_used(template):
    text = json.dumps(template["resources"]) + json.dumps(template["variables"]) + json.dumps(template["outputs"])
    used = set(re.findall(r"parameters\('([^']+)'\)", text))
    nested = {n for inner in list(templates_in(template))[1:] for n in inner.get("parameters", {})}
    assert used - nested <= set(template["parameters"])
    assert set(template["parameters"]) <= used


# ------------------------------------------------------------------ settings


def test_every_setting_the_app_reads_is_set(template):
    settings = app_settings(template)
    env = RecordingEnv(settings)
    Settings.from_env(env)
    from_triggers = {m for b in trigger_bindings() for v in b.values() if isinstance(v, str)
                     for m in SETTING_EXPRESSION.findall(v)}
    needed = (env.read | from_triggers) - set(LOCAL_ONLY)
    assert not needed - set(settings), f"read by the app, missing from the template: {sorted(needed - set(settings))}"
    assert from_triggers <= set(settings)  # the host resolves %SETTING% before the app runs


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"enableAuthentication": True, "authClientId": "11111111-2222-3333-4444-555555555555",
         "autoSyncAfterRenewal": False, "pythonVersion": "3.12"},
        {"acmeDirectoryUrl": "https://acme.zerossl.com/v2/DV90", "acmeContact": "ops@example.com",
         "acmeEabKid": "kid-1", "azureDnsSubscriptionId": "00000000-0000-0000-0000-0000000000dd",
         "azureDnsResourceGroup": "dns"},
    ],
)
def test_settings_are_valid_for_the_app(template, parameters):
    settings = app_settings(template, **parameters)
    parsed = Settings.from_env(settings)
    assert parsed.key_vault_url.endswith(".vault.azure.net") and not parsed.vault_is_local_emulator
    assert parsed.require_roles is parameters.get("enableAuthentication", False)
    assert parsed.dns_provider == "azure"
    for name in ("AUTO_RENEW_SCHEDULE", "SYNC_SWEEP_SCHEDULE"):
        CronSchedule.parse(settings[name])
    assert QUEUE_NAME.match(settings["OPERATIONS_QUEUE"])
    if parameters.get("acmeEabKid"):
        assert settings["ACME_EAB_HMAC_KEY"].startswith("@Microsoft.KeyVault(VaultName=")
    else:
        assert settings["ACME_EAB_HMAC_KEY"] == ""


def test_storage_settings_are_identity_based(template):
    settings = app_settings(template)
    assert "AzureWebJobsStorage" not in settings
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    for service in ("blob", "queue", "table"):
        assert re.fullmatch(rf"https://certsync[a-z0-9]+\.{service}\.core\.windows\.net/",
                            settings[f"AzureWebJobsStorage__{service}ServiceUri"])
    connections = {b["connection"] for b in trigger_bindings() if "connection" in b}
    for connection in connections:
        assert any(name.startswith(f"{connection}__") for name in settings), connection
    [account] = resources(template, "Microsoft.Storage/storageAccounts")
    assert account["properties"]["allowSharedKeyAccess"] is False
    deployment = the_site(template)["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert deployment["authentication"] == {"type": "SystemAssignedIdentity"}


def test_no_key_password_or_secret_connection_string(template):
    secret = re.compile(r"AccountKey=|SharedAccessSignature|sig=|password|listKeys|listSecrets|listCredentials"
                        r"|secureString|securestring|clientSecret", re.IGNORECASE)
    for parameters in ({}, {"acmeEabKid": "kid-1"}):
        evaluator = Evaluator(template, parameters)
        for name, value in app_settings(template, **parameters).items():
            assert not secret.search(f"{name}={value}"), name
        for name, output in template["outputs"].items():
            assert not secret.search(json.dumps(output)), name
            assert not secret.search(str(evaluator.value(output["value"]))), name
    assert all(p["type"].lower() != "securestring" for p in template["parameters"].values())
    # The Application Insights connection string names the resource; ingestion needs Entra ID.
    [insights] = resources(template, "Microsoft.Insights/components")
    assert insights["properties"]["DisableLocalAuth"] is True
    assert app_settings(template)["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"


# ------------------------------------------------------------------ hosting


def test_flex_consumption_python_app_with_system_identity(template):
    [plan] = resources(template, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = the_site(template)
    assert site["identity"] == {"type": "SystemAssigned"} and site["properties"]["httpsOnly"] is True
    runtime = site["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    assert set(template["parameters"]["pythonVersion"]["allowedValues"]) == {"3.11", "3.12"}
    # Flex Consumption refuses these app settings; the runtime comes from functionAppConfig.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(app_settings(template))


def test_key_vault_uses_rbac(template):
    [vault] = resources(template, "Microsoft.KeyVault/vaults")
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert "accessPolicies" not in vault["properties"]


def test_authentication_guards_all_but_the_anonymous_routes(template):
    [auth] = resources(template, "Microsoft.Web/sites/config")
    assert auth["condition"] == "[parameters('enableAuthentication')]"
    anonymous = {f"/api/{b['route']}" for b in trigger_bindings()
                 if b["type"] == "httpTrigger" and b["authLevel"] == "ANONYMOUS"}
    evaluator = Evaluator(template, {"enableAuthentication": True, "authClientId": "client"})
    validation = evaluator.value(auth["properties"]["globalValidation"])
    assert validation["requireAuthentication"] is True
    assert set(validation["excludedPaths"]) == anonymous
    assert app_settings(template, enableAuthentication=True)["REQUIRE_ROLES"] == "true"


# ------------------------------------------------------------------ roles


def role_assignments(template: dict[str, Any], parameters: dict[str, Any]) -> list[tuple[Scope | str, str, str]]:
    """(where, role definition id, principal) for every assignment, nested deployments included."""
    evaluator = Evaluator(template, parameters)
    app_principal = evaluator.expression("reference(variables('appId'), '2024-04-01', 'full').identity.principalId")
    found: list[tuple[Scope | str, str, str]] = []
    for assignment in resources(template, "Microsoft.Authorization/roleAssignments"):
        if "condition" in assignment and not evaluator.value(assignment["condition"]):
            continue
        scope = evaluator.value(assignment["scope"])
        where: Scope | str = (Scope.STORAGE if scope.startswith("Microsoft.Storage/storageAccounts/")
                              else Scope.KEY_VAULT if scope.startswith("Microsoft.KeyVault/vaults/") else scope)
        properties = evaluator.value(assignment["properties"])
        found.append((where, properties["roleDefinitionId"].rsplit("/", 1)[-1], properties["principalId"]))
    for deployment in resources(template, "Microsoft.Resources/deployments"):
        count = evaluator.value(deployment["copy"]["count"]) if "copy" in deployment else 1
        for index in range(count):
            each = Evaluator(template, parameters, copy_index=index)
            if not each.value(deployment.get("condition", True)):
                continue
            inner = deployment["properties"]["template"]
            passed = {k: each.value(v["value"]) for k, v in deployment["properties"]["parameters"].items()}
            for resource in inner["resources"]:
                if resource["type"] != "Microsoft.Authorization/roleAssignments":
                    continue
                where = Scope.DNS if deployment["name"] == "certsync-dns-assignment" else Scope.APP_SERVICE
                found.append((where, passed["roleId"], passed["principalId"]))
    assert all(p for _, _, p in found)
    return [(w, r, "app" if p == app_principal else p) for w, r, p in found]


def custom_roles(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role definition id -> {actions, scopes} of the custom roles the template creates."""
    [definitions] = [d for d in resources(template, "Microsoft.Resources/deployments")
                     if d.get("copy", {}).get("name") == "operatorRoleDefinitions"]
    roles = {}
    evaluator = Evaluator(template, parameters)
    for index in range(evaluator.value(definitions["copy"]["count"])):
        each = Evaluator(template, parameters, copy_index=index)
        if each.value(definitions["condition"]):
            passed = {k: each.value(v["value"]) for k, v in definitions["properties"]["parameters"].items()}
            roles[passed["roleId"]] = {"actions": passed["actions"], "dataActions": [], "scopes": passed["scopes"]}
    return roles


def covers(granted: list[str], action: str) -> bool:
    """Azure's wildcard match: `*` stands for any characters; names are case-insensitive."""
    return any(re.fullmatch(re.escape(g).replace(r"\*", ".*"), action, re.IGNORECASE) for g in granted)


MANAGED = {
    "appServiceScopes": ["/subscriptions/00000000-0000-0000-0000-000000000001",
                         "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/web"],
    "azureDnsSubscriptionId": "00000000-0000-0000-0000-000000000003",
    "azureDnsResourceGroup": "dns",
    "appServicePrincipalObjectId": "00000000-0000-0000-0000-0000000000ee",
}


def test_every_action_the_code_performs_is_granted(template):
    assignments = role_assignments(template, MANAGED)
    custom = custom_roles(template, MANAGED)
    for permission in PERMISSIONS:
        granted: list[str] = []
        for where, role, principal in assignments:
            if where is permission.scope and principal == "app":
                definition = BUILTIN_ROLES.get(role) or custom[role]
                granted += definition["dataActions" if permission.data else "actions"]
        assert covers(granted, permission.action), f"{permission.action} ({permission.used_for}) at {permission.scope}"


def test_managed_scopes_get_exactly_the_actions_in_use(template):
    custom = custom_roles(template, MANAGED)
    by_actions = {frozenset(r["actions"]): r["scopes"] for r in custom.values()}
    assert by_actions[frozenset(actions_at(Scope.APP_SERVICE, data=False))] == MANAGED["appServiceScopes"]
    dns_scope = "/subscriptions/00000000-0000-0000-0000-000000000003/resourceGroups/dns"
    assert by_actions[frozenset(actions_at(Scope.DNS, data=False))] == [dns_scope]
    assert len(custom) == 2
    places = sorted(str(w) for w, _, _ in role_assignments(template, MANAGED) if w in (Scope.APP_SERVICE, Scope.DNS))
    assert places == ["appService", "appService", "dns"]  # one per managed scope
    assert custom_roles(template, {}) == {}  # nothing managed: no custom role at all


def test_app_service_can_read_the_vault(template):
    assignments = role_assignments(template, MANAGED)
    readers = [r for w, r, p in assignments if w is Scope.KEY_VAULT and p == MANAGED["appServicePrincipalObjectId"]]
    assert readers and all("getSecret" in " ".join(BUILTIN_ROLES[r]["dataActions"]) for r in readers)
    assert not [p for w, _, p in role_assignments(template, {}) if p not in ("app",)]


def test_role_definition_ids_are_the_documented_built_ins(template):
    ids = {v for v in template["variables"]["roles"].values()}
    assert ids == set(BUILTIN_ROLES)
    assert not [e for e in json.dumps(template).split('"') if is_expression(e) and "roleDefinitions'" in e
                and "variables('roles')" not in e and "parameters('roleId')" not in e]
