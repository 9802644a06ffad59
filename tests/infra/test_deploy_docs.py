"""The README's Deploy section and infra/main.bicep say what infra/azuredeploy.json does.

main.bicep cannot be compiled here (no Bicep compiler may be installed), so its parameters,
app settings, role ids and actions are read as text and compared with the ARM JSON.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from shared.azure_rbac import Scope, actions_at
from tests.infra.arm_template import REPO, load_template

BICEP = REPO / "infra" / "main.bicep"
BUILTIN_ROLES = json.loads((Path(__file__).parent / "builtin_roles.json").read_text(encoding="utf-8"))["roles"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def deploy_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Deploy to Azure\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "README has no '## Deploy to Azure' section"
    return match.group(1)


def test_the_button_deploys_the_arm_template(deploy_section):
    [target] = re.findall(r"\(https://portal\.azure\.com/#create/Microsoft\.Template/uri/([^)\s]+)\)", deploy_section)
    assert unquote(target).endswith("/main/infra/azuredeploy.json")
    assert "No Bicep compiler" in deploy_section


def test_readme_names_every_parameter_and_role(template, deploy_section):
    for name in template["parameters"]:
        assert f"`{name}`" in deploy_section, name
    for role in template["variables"]["roles"].values():
        assert BUILTIN_ROLES[role]["roleName"] in deploy_section
    for custom in template["variables"]["operatorRoles"]:
        display = re.sub(r"\s*\(\{0\}\)$", "", custom["roleName"].split("'")[1])
        assert display in deploy_section, display
    for section in ("### What it creates", "### Roles on the scopes certsync manages", "### First-run checklist",
                    "### See it working", "### Upgrading"):
        assert section in deploy_section


def bicep_params(text: str) -> dict[str, str]:
    return dict(re.findall(r"^param (\w+) (\w+)", text, re.M))


def test_bicep_has_the_same_parameters(template):
    text = BICEP.read_text(encoding="utf-8")
    arm_types = {name: p["type"].lower() for name, p in template["parameters"].items()}
    assert {k: v.lower() for k, v in bicep_params(text).items()} == arm_types
    assert text.count("@description(") >= len(arm_types)


def test_bicep_sets_the_same_app_settings_and_roles(template):
    text = BICEP.read_text(encoding="utf-8")
    [site] = [r for r in template["resources"] if r["type"] == "Microsoft.Web/sites"]
    arm_settings = [s["name"] for s in site["properties"]["siteConfig"]["appSettings"]]
    assert re.findall(r"\{ name: '([^']+)', value:", text) == arm_settings
    guids = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    assert set(template["variables"]["roles"].values()) <= guids
    for scope in (Scope.APP_SERVICE, Scope.DNS):
        for action in actions_at(scope, data=False):
            assert f"'{action}'" in text, action
    for module in re.findall(r"module \w+ '([^']+)'", text):
        assert (BICEP.parent / module).is_file(), module


def test_template_custom_roles_hold_the_code_actions(template):
    assert template["variables"]["appServiceActions"] == list(actions_at(Scope.APP_SERVICE, data=False))
    assert template["variables"]["dnsActions"] == list(actions_at(Scope.DNS, data=False))
