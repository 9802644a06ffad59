"""Reading infra/azuredeploy.json the way Azure Resource Manager would, as far as the tests need.

`Evaluator` evaluates the template's expressions (`[parameters('x')]`, `[format(...)]`, ...) with
chosen parameter values. What only exists after a deployment (`reference(...)` of a resource,
`uniqueString`, the subscription) comes back as a stand-in of the right shape, e.g. a vault's
`vaultUri` is `https://<vault name>.vault.azure.net/`. Only the functions the template uses are
implemented; an unknown one fails the test instead of guessing.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "azuredeploy.json"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000000aa"
TENANT_ID = "00000000-0000-0000-0000-0000000000bb"
RESOURCE_GROUP = "certsync-rg"
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[().,\[\]]))"
)


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text(encoding="utf-8"))


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


@dataclass
class Evaluator:
    template: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)  # overrides of the defaults
    copy_index: int = 0

    def value(self, raw: Any) -> Any:
        """A template value with every expression evaluated (objects and arrays recursively)."""
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if is_expression(raw):
            return self.expression(raw[1:-1])
        return raw

    def expression(self, text: str) -> Any:
        parser = _Parser(text, self._call)
        result = parser.parse()
        return result

    def parameter(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template["parameters"][name]
        if "defaultValue" not in declared:
            raise AssertionError(f"parameter {name} has no default; pass it")
        return self.value(declared["defaultValue"])

    def _call(self, name: str, args: list[Any]) -> Any:
        function = _FUNCTIONS.get(name.lower())
        if function is not None:
            return function(*args)
        if name == "parameters":
            return self.parameter(args[0])
        if name == "variables":
            return self.value(self.template["variables"][args[0]])
        if name == "copyIndex":
            return self.copy_index + (args[0] if args else 0)
        if name == "reference":
            return _reference(args[0])
        raise AssertionError(f"the tests' evaluator does not know the ARM function {name}()")


class _Parser:
    def __init__(self, text: str, call: Callable[[str, list[Any]], Any]) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.call = call

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise AssertionError(f"cannot read expression at {text[position:]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def parse(self) -> Any:
        result = self._operand()
        if self.position != len(self.tokens):
            raise AssertionError(f"unexpected {self.tokens[self.position]}")
        return result

    def _next(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _peek(self) -> str:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else ""

    def _operand(self) -> Any:
        kind, text = self._next()
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "number":
            value = int(text)
        elif kind == "name":
            args: list[Any] = []
            self._expect("(")
            while self._peek() != ")":
                args.append(self._operand())
                if self._peek() == ",":
                    self._next()
            self._expect(")")
            value = self.call(text, args)
        else:
            raise AssertionError(f"unexpected {text!r}")
        return self._accessors(value)

    def _accessors(self, value: Any) -> Any:
        while self._peek() in (".", "["):
            if self._next()[1] == ".":
                key = self._next()[1]
                value = value[key]
            else:
                index = self._operand()
                self._expect("]")
                value = value[index]
        return value

    def _expect(self, punct: str) -> None:
        _, text = self._next()
        if text != punct:
            raise AssertionError(f"expected {punct!r}, got {text!r}")


def _unique_string(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:13]


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts)))


def _resource_id(*parts: str) -> str:
    kind, names = parts[0], parts[1:]
    provider, *types = kind.split("/")
    if len(types) != len(names):  # resourceId(subscriptionId, resourceGroup, ...) is not used here
        raise AssertionError(f"resourceId{parts}: expected resourceId(type, names...)")
    path = provider + "".join(f"/{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/{path}"


def _reference(resource_id: str) -> dict[str, Any]:
    """What `reference()` returns after a deployment, for the resource kinds the template reads."""
    name = resource_id.rsplit("/", 1)[-1]
    if "/Microsoft.Storage/storageAccounts/" in resource_id:
        endpoints = {s: f"https://{name}.{s}.core.windows.net/" for s in ("blob", "queue", "table", "file")}
        return {"primaryEndpoints": endpoints}
    if "/Microsoft.KeyVault/vaults/" in resource_id:
        return {"vaultUri": f"https://{name}.vault.azure.net/"}
    if "/Microsoft.Insights/components/" in resource_id:
        return {"ConnectionString": "InstrumentationKey=00000000-0000-0000-0000-0000000000cc;"
                "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"}
    if "/Microsoft.Web/sites/" in resource_id:
        return {"defaultHostName": f"{name}.azurewebsites.net", "identity": {"principalId": _guid("principal", name)}}
    raise AssertionError(f"reference() of an unexpected resource {resource_id}")


_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "format": lambda text, *args: re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), text),
    "concat": lambda *parts: (
        [x for p in parts for x in p] if parts and isinstance(parts[0], list) else "".join(map(str, parts))
    ),
    "string": lambda v: json.dumps(v) if isinstance(v, bool) else str(v),
    "tolower": lambda v: v.lower(),
    "take": lambda v, n: v[:n],
    "if": lambda condition, yes, no: yes if condition else no,
    "empty": lambda v: not v,
    "not": lambda v: not v,
    "and": lambda *v: all(v),
    "or": lambda *v: any(v),
    "equals": lambda a, b: a == b,
    "length": len,
    "split": lambda text, sep: text.split(sep),
    "join": lambda items, sep: sep.join(items),
    "replace": lambda text, old, new: text.replace(old, new),
    "last": lambda v: v[-1],
    "createarray": lambda *v: list(v),
    "union": lambda *v: list(dict.fromkeys(x for p in v for x in p)),
    "uniquestring": _unique_string,
    "guid": _guid,
    "resourceid": _resource_id,
    "subscriptionresourceid": lambda kind, name: f"/subscriptions/{SUBSCRIPTION_ID}/providers/{kind}/{name}",
    "subscription": lambda: {
        "subscriptionId": SUBSCRIPTION_ID, "tenantId": TENANT_ID, "id": f"/subscriptions/{SUBSCRIPTION_ID}"
    },
    "resourcegroup": lambda: {"name": RESOURCE_GROUP, "location": "westeurope",
                              "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"},
    "environment": lambda: {
        "authentication": {"loginEndpoint": "https://login.microsoftonline.com/"},
        "resourceManager": "https://management.azure.com/",
    },
}


def app_settings(template: dict[str, Any], **parameters: Any) -> dict[str, str]:
    """The function app's settings after a deployment with these parameters."""
    evaluator = Evaluator(template, parameters)
    site = next(r for r in template["resources"] if r["type"] == "Microsoft.Web/sites")
    return {s["name"]: evaluator.value(s["value"]) for s in site["properties"]["siteConfig"]["appSettings"]}
