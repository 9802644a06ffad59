"""docs/openapi.json: a valid OpenAPI 3.1 document that matches the HTTP routes the app registers.

The route checks import function_app, so a blueprint that does not import (for example one still
being written) fails them: it must not silently shrink the set of routes compared.
"""
from __future__ import annotations

import functools
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DOCUMENT = REPO / "docs" / "openapi.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANONYMOUS_PATHS = {"/health", "/ca/root.pem", "/ca/crl", "/openapi.json"}
ERROR_RESPONSES = {
    "BadRequest", "NotFound", "Conflict", "Unauthorized", "Forbidden", "ServiceUnavailable", "UnsupportedMediaType"
}
# {name}, {name:constraint}, {name?}, {*name}, {name=default} -> {name}
ROUTE_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def operations(doc: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(doc: dict, ref: str) -> Any:
    """A local JSON Pointer ($ref "#/a/b"); KeyError/IndexError/ValueError if it does not resolve."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are used in this document, not {ref!r}")
    node: Any = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def deref(doc: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def refs(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"], where
        for key, value in node.items():
            yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{where}/{i}")


def object_properties(doc: dict, schema: dict) -> tuple[set[str], set[str]]:
    """(properties, required) of an object schema, merging allOf members."""
    schema = deref(doc, schema)
    props, required = set(schema.get("properties", {})), set(schema.get("required", []))
    for member in schema.get("allOf", []):
        more_props, more_required = object_properties(doc, member)
        props |= more_props
        required |= more_required
    return props, required


def normalize_route(route: str) -> str:
    return "/" + ROUTE_PARAMETER.sub(r"{\1}", route.strip("/"))


@functools.lru_cache(maxsize=1)  # exceptions are not cached, so each route test fails on a broken import
def registered() -> dict[str, dict[str, Any]]:
    """{"/path": {"get": Function, ...}} for every HTTP-triggered function of function_app.app."""
    try:
        import function_app
    except Exception as err:  # noqa: BLE001 - any import failure must fail the tests, not skip them
        pytest.fail(f"function_app does not import, so its routes cannot be compared: {type(err).__name__}: {err}")
    from azure.functions.decorators.http import HttpTrigger

    routes: dict[str, dict[str, Any]] = {}
    for fn in function_app.app.get_functions():
        trigger = fn.get_trigger()
        if not isinstance(trigger, HttpTrigger):
            continue
        path = normalize_route(trigger.route or fn.get_function_name())
        methods = [getattr(m, "value", m) for m in trigger.methods] if trigger.methods else list(HTTP_METHODS)
        for method in methods:
            method = str(method).lower()
            assert method not in routes.get(path, {}), f"{method.upper()} {path} is registered twice"
            routes.setdefault(path, {})[method] = fn
    assert routes, "function_app registers no HTTP routes"
    return routes


# ------------------------------------------------------------------ the document itself


def test_document_is_openapi_3_1_json_with_two_space_indent(doc):
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] == "certsync"
    assert doc["info"]["version"] == "0.1.0"
    assert doc["info"].get("description")
    text = DOCUMENT.read_text(encoding="utf-8")
    formatted = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert text == formatted, "keep docs/openapi.json formatted as json.dumps(indent=2, ensure_ascii=False)"


def test_server_url_is_the_route_prefix_of_host_json(doc):
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    assert doc["servers"] == [{"url": f"/{prefix}"}]
    assert all(path.startswith("/") and not path.startswith(f"/{prefix}/") for path in doc["paths"])


def test_every_ref_resolves(doc):
    broken = []
    for ref, where in refs(doc):
        try:
            resolve(doc, ref)
        except (KeyError, IndexError, ValueError, TypeError) as err:
            broken.append(f"{where}: {ref} ({type(err).__name__}: {err})")
    assert not broken, "unresolvable $ref:\n" + "\n".join(broken)


def test_every_component_is_used(doc):
    used = {ref for ref, _ in refs(doc)}
    unused = [
        f"#/components/{kind}/{name}"
        for kind in ("schemas", "responses", "parameters", "headers")
        for name in doc["components"].get(kind, {})
        if f"#/components/{kind}/{name}" not in used
    ]
    assert not unused, f"unused components: {unused}"


def test_shared_error_responses_use_the_arm_error_body(doc):
    responses = doc["components"]["responses"]
    assert ERROR_RESPONSES <= set(responses)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message"}
    for name in ERROR_RESPONSES:
        assert responses[name]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, name


def test_every_operation_is_complete(doc):
    seen_ids: dict[str, str] = {}
    problems = []
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not op_id:
            problems.append(f"{where}: no operationId")
        elif op_id in seen_ids:
            problems.append(f"{where}: operationId {op_id} also used by {seen_ids[op_id]}")
        else:
            seen_ids[op_id] = where
        if not op.get("summary"):
            problems.append(f"{where}: no summary")
        statuses = set(op.get("responses", {}))
        if not any(s.startswith("2") for s in statuses):
            problems.append(f"{where}: no 2xx response")
        for status, response in op.get("responses", {}).items():
            if status == "202":
                accepted = deref(doc, response)
                location = deref(doc, accepted.get("headers", {}).get("Location", {}))
                points_at = location.get("description", "") + location.get("schema", {}).get("pattern", "")
                if "/operations/" not in points_at:
                    problems.append(f"{where}: 202 without a Location header pointing at /operations/{{id}}")
                body = accepted.get("content", {}).get("application/json", {}).get("schema")
                if body != {"$ref": "#/components/schemas/Operation"}:
                    problems.append(f"{where}: 202 body is not an Operation")
            elif status[0] in "45" and "$ref" not in response and path != "/health":
                problems.append(f"{where}: {status} should reference #/components/responses")
    assert not problems, "\n".join(problems)


def test_every_operation_with_a_body_documents_415(doc):
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations(doc)
        if "requestBody" in op
        and op["responses"].get("415") != {"$ref": "#/components/responses/UnsupportedMediaType"}
    ]
    assert not missing, f"operations reading a JSON body without a 415 response: {missing}"


def test_path_parameters_match_the_templates(doc):
    problems = []
    for path, item in doc["paths"].items():
        template = set(re.findall(r"\{([^}]+)\}", path))
        shared = [deref(doc, p) for p in item.get("parameters", [])]
        for method in HTTP_METHODS:
            if method not in item:
                continue
            params = shared + [deref(doc, p) for p in item[method].get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            if declared != template:
                problems.append(f"{method.upper()} {path}: path parameters {sorted(declared)} != {sorted(template)}")
            if any(p["in"] == "path" and p.get("required") is not True for p in params):
                problems.append(f"{method.upper()} {path}: a path parameter is not required")
    assert not problems, "\n".join(problems)


def test_function_key_on_every_operation_but_the_anonymous_ones(doc):
    schemes = doc["components"]["securitySchemes"]
    expected = {("header", "x-functions-key"), ("query", "code")}
    key_schemes = {name for name, s in schemes.items() if s["type"] == "apiKey" and (s["in"], s["name"]) in expected}
    assert {(schemes[name]["in"], schemes[name]["name"]) for name in key_schemes} == expected
    problems = []
    for path, method, op in operations(doc):
        effective = op.get("security", doc.get("security", []))
        names = {name for requirement in effective for name in requirement}
        if path in ANONYMOUS_PATHS:
            if effective != []:
                problems.append(f"{method.upper()} {path} must be anonymous (security: [])")
        elif not effective or not names <= key_schemes or not all(requirement for requirement in effective):
            problems.append(f"{method.upper()} {path} must require the function key, has {effective}")
    assert not problems, "\n".join(problems)


def test_schemas_use_3_1_nullability(doc):
    bad: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "nullable" in node:
                bad.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc["components"]["schemas"], "#/components/schemas")
    assert not bad, f"use type: [T, 'null'] instead of the 3.0 'nullable' keyword: {bad}"


# ------------------------------------------------------------------ the document against the code


def test_every_registered_route_is_documented_with_the_same_methods(doc):
    problems = []
    for path, methods in sorted(registered().items()):
        item = doc["paths"].get(path)
        if item is None:
            listed = ", ".join(m.upper() for m in sorted(methods))
            problems.append(f"{path} ({listed}) is registered but not documented")
            continue
        documented = {m for m in HTTP_METHODS if m in item}
        if documented != set(methods):
            problems.append(f"{path}: registered {sorted(methods)}, documented {sorted(documented)}")
    assert not problems, "\n".join(problems)


def test_every_documented_route_is_registered(doc):
    routes = registered()
    phantom = [
        f"{method.upper()} {path}" for path, method, _ in operations(doc) if method not in routes.get(path, {})
    ]
    assert not phantom, f"documented but not registered in function_app: {phantom}"


def test_anonymous_routes_match_the_registered_auth_level(doc):
    problems = []
    for path, methods in registered().items():
        for method, fn in methods.items():
            op = doc["paths"].get(path, {}).get(method)
            if op is None:
                continue  # reported by the route test
            level = getattr(fn.get_trigger().auth_level, "value", fn.get_trigger().auth_level)
            anonymous_in_code = str(level).lower() == "anonymous"
            anonymous_in_doc = op.get("security", doc.get("security")) == []
            if anonymous_in_code != anonymous_in_doc:
                problems.append(f"{method.upper()} {path}: auth level {level}, documented anonymous={anonymous_in_doc}")
    assert not problems, "\n".join(problems)


def _required_role(fn) -> tuple[bool, str | None]:
    """(known, role) from functions.http.endpoint's wrapper; (True, None) for an undecorated function."""
    user = fn.get_user_function()
    if not hasattr(user, "__wrapped__"):
        return True, None
    nonlocals = inspect.getclosurevars(user).nonlocals
    return ("role" in nonlocals), nonlocals.get("role")


def test_documented_roles_match_the_code(doc):
    problems = []
    for path, methods in registered().items():
        for method, fn in methods.items():
            op = doc["paths"].get(path, {}).get(method)
            if op is None:
                continue
            known, role = _required_role(fn)
            if known and op.get("x-required-role") != role:
                documented = op.get("x-required-role")
                problems.append(f"{method.upper()} {path}: role {role} in code, {documented} documented")
    assert not problems, "\n".join(problems)


def test_enums_and_patterns_match_the_code(doc):
    from functions.operations import OPERATION_ID
    from shared.app_context import ISSUER_NAMES
    from shared.model import (
        APP_PATTERN,
        NAME_PATTERN,
        SCOPE_PATTERN,
        CertificateStatus,
        OperationKind,
        OperationStatus,
        SslState,
    )
    from shared.pki import KeyType

    schemas = doc["components"]["schemas"]
    for name, enum in {
        "CertificateStatus": CertificateStatus,
        "SslState": SslState,
        "OperationStatus": OperationStatus,
        "OperationKind": OperationKind,
        "KeyType": KeyType,
    }.items():
        assert schemas[name]["enum"] == [e.value for e in enum], name
    assert schemas["Issuer"]["enum"] == list(ISSUER_NAMES)
    assert schemas["Name"]["pattern"] == NAME_PATTERN.pattern
    assert schemas["OperationId"]["pattern"] == OPERATION_ID.pattern
    assert schemas["SslBinding"]["properties"]["app"]["pattern"] == APP_PATTERN.pattern
    assert schemas["LinkedCertificate"]["properties"]["scope"]["pattern"] == SCOPE_PATTERN.pattern


def test_export_request_matches_the_code(doc):
    from shared.export import MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, VERSION_PATTERN, Encryption, ExportFormat

    export = doc["components"]["schemas"]["ExportRequest"]["properties"]
    assert export["format"]["enum"] == [f.value for f in ExportFormat]
    assert export["encryption"]["enum"] == [e.value for e in Encryption]
    password = export["password"]
    # JSON Schema counts characters; the byte limit is stated in the description, and a password
    # of more characters than that many bytes can never pass.
    assert (password["minLength"], password["maxLength"]) == (MIN_PASSWORD_LENGTH, MAX_PASSWORD_BYTES)
    assert f"{MAX_PASSWORD_BYTES:,} bytes in UTF-8" in password["description"]
    assert export["version"]["pattern"] == VERSION_PATTERN.pattern


def test_response_schemas_match_the_shapes(doc):
    from functions import shapes
    from shared.clock import utcnow
    from shared.conditions import certificate_ready
    from shared.model import Certificate, LinkedCertificate, Operation, OperationKind, SslBinding
    from shared.overview import CertificateOverview, CertificateSummary, LinkState
    from shared.secret_refs import SecretRef
    from shared.sync.planner import LinkSyncState

    cert = Certificate(name="c", hostnames=("a.example.com",), key_type="RSA2048", issuer="local")
    link = LinkedCertificate(name="l", scope="default", secret_id="https://v.example/secrets/cert-c")
    binding = SslBinding(app="app", hostname="a.example.com", link="l", thumbprint="AB")
    samples = {
        "Certificate": shapes.certificate(cert, "https://v.example"),
        "CertificateSummary": shapes.summary(CertificateSummary(cert, 0, 0, vault="https://v.example")),
        "CertificateOverview": shapes.overview(
            CertificateOverview(cert, SecretRef("https://v.example", "cert-c"), None, None, None, "", [])
        ),
        "LinkedCertificate": shapes.link(link),
        "LinkState": shapes.link_state(LinkState(link, "", [binding], LinkSyncState.IN_SYNC)),
        "Condition": shapes.conditions([certificate_ready(cert, utcnow())])[0],
        "SslBinding": shapes.binding(binding),
        "Operation": shapes.operation(Operation(id="1", kind=OperationKind.ISSUE, target="c")),
    }
    problems = []
    for name, sample in samples.items():
        props, required = object_properties(doc, doc["components"]["schemas"][name])
        if props != set(sample):
            problems.append(f"{name}: documented {sorted(props ^ set(sample))} differ from the shape")
        if required != set(sample):
            problems.append(f"{name}: required {sorted(required ^ set(sample))} differ from the shape")
    assert not problems, "\n".join(problems)


def test_request_schemas_refuse_unknown_fields(doc):
    schemas = doc["components"]["schemas"]
    for name in (
        "CreateCertificateRequest",
        "CreateLinkRequest",
        "PutBindingRequest",
        "PatchCertificateRequest",
        "RekeyRequest",
        "ExportRequest",
    ):
        assert schemas[name].get("additionalProperties") is False, name
    from functions.certificates import CREATE_FIELDS

    assert schemas["CreateCertificateRequest"]["required"] == ["name", "hostnames"]
    assert set(schemas["CreateCertificateRequest"]["properties"]) == {"name", "hostnames"} | CREATE_FIELDS
    validity = schemas["CreateCertificateRequest"]["properties"]["validityDays"]
    assert (validity["minimum"], validity["maximum"]) == (1, 397)
    renew_before = schemas["CreateCertificateRequest"]["properties"]["renewBeforeDays"]
    assert (renew_before["minimum"], renew_before["maximum"]) == (1, 396)


# ------------------------------------------------------------------ optional: a full validator


def test_document_passes_openapi_spec_validator(doc):
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    validator.validate(doc)
