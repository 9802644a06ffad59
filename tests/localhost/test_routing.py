"""Route templates and the route table, table-driven (pure, no host)."""
from __future__ import annotations

import pytest

from devtools.local_host.routing import RouteTable, RouteTemplate, RouteTemplateError

NO_MATCH = None


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("hello", "hello", {}),
        ("hello", "HELLO", {}),  # literals are case-insensitive
        ("hello", "hello/extra", NO_MATCH),
        ("items/{id}", "items/42", {"id": "42"}),
        ("items/{id}", "items", NO_MATCH),
        ("items/{id:int}", "items/-7", {"id": "-7"}),
        ("items/{id:int}", "items/abc", NO_MATCH),
        ("items/{id:int}", "items/99999999999", NO_MATCH),  # beyond int32
        ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
        ("items/{name:alpha}", "items/Widget", {"name": "Widget"}),
        ("items/{name:alpha}", "items/w1", NO_MATCH),
        ("flags/{on:bool}", "flags/True", {"on": "True"}),
        ("flags/{on:bool}", "flags/yes", NO_MATCH),
        ("ids/{id:guid}", "ids/6f9619ff-8b86-d011-b42d-00cf4fc964ff", {"id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"}),
        ("ids/{id:guid}", "ids/not-a-guid", NO_MATCH),
        ("codes/{code:length(3)}", "codes/abc", {"code": "abc"}),
        ("codes/{code:length(3)}", "codes/abcd", NO_MATCH),
        ("codes/{code:minlength(2):maxlength(3)}", "codes/a", NO_MATCH),
        ("codes/{code:minlength(2):maxlength(3)}", "codes/ab", {"code": "ab"}),
        ("ages/{age:range(18,120)}", "ages/30", {"age": "30"}),
        ("ages/{age:range(18,120)}", "ages/5", NO_MATCH),
        ("ages/{age:min(18)}", "ages/17", NO_MATCH),
        ("zips/{zip:regex(^\\d{{5}}$)}", "zips/12345", {"zip": "12345"}),
        ("zips/{zip:regex(^\\d{{5}}$)}", "zips/1234", NO_MATCH),
        ("greet/{name?}", "greet", {}),
        ("greet/{name?}", "greet/ada", {"name": "ada"}),
        ("greet/{name=world}", "greet", {"name": "world"}),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files/{*path}", "files", {}),
        ("files/{**path}", "files/a/b", {"path": "a/b"}),
        ("docs/{name}.{ext}", "docs/report.final.pdf", {"name": "report.final", "ext": "pdf"}),
        ("apps/{app}/bindings/{hostname}", "apps/web/bindings/www.example.com",
         {"app": "web", "hostname": "www.example.com"}),
        ("", "", {}),
    ],
)
def test_template_matching(template: str, path: str, expected: dict[str, str] | None) -> None:
    segments = [s for s in path.split("/") if s]
    assert RouteTemplate.parse(template).match(segments) == expected


@pytest.mark.parametrize(
    "template",
    [
        "items/{id:unknown}",  # the host refuses unknown constraints
        "items/{id",
        "items/id}",
        "files/{*path}/more",  # catch-all must be last
        "a/{x}/{x}",  # duplicate names
        "a/{x}{y}",  # two parameters, no literal between
        "a//b",
        "items/{id:length(a)}",
        "items/{:int}",
        "files/{name}.{ext?}",  # optional parameters must fill their segment (here)
    ],
)
def test_invalid_templates(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


@pytest.fixture
def table() -> RouteTable[str]:
    routes: RouteTable[str] = RouteTable("api")
    routes.add("items/{name}", ["GET"], "by-name")
    routes.add("items/{id:int}", ["GET"], "by-id")
    routes.add("items/new", ["GET"], "new")
    routes.add("items/{*rest}", None, "catch-all")
    routes.add("items/{id:int}", ["DELETE"], "delete")
    return routes


@pytest.mark.parametrize(
    ("method", "path", "target", "params"),
    [
        ("GET", "/api/items/new", "new", {}),  # literal first
        ("GET", "/api/items/5", "by-id", {"id": "5"}),  # then constrained
        ("GET", "/api/items/five", "by-name", {"name": "five"}),  # then plain
        ("GET", "/api/items/a/b", "catch-all", {"rest": "a/b"}),  # then catch-all
        ("DELETE", "/api/items/5", "delete", {"id": "5"}),  # method picks among equal templates
        ("PATCH", "/api/items/5", "catch-all", {"rest": "5"}),  # a method-less route takes the rest
        ("get", "/API/items/5/", "by-id", {"id": "5"}),
        ("GET", "/api/items/with%2Fslash", "by-name", {"name": "with/slash"}),
    ],
)
def test_table_precedence(table: RouteTable[str], method: str, path: str, target: str, params: dict[str, str]) -> None:
    matched = table.match(method, path)
    assert matched is not None
    route, values = matched
    assert (route.target, values) == (target, params)


def test_wrong_method_is_no_match_not_405() -> None:
    routes: RouteTable[str] = RouteTable("api")
    routes.add("certificates", ["POST"], "create")
    assert routes.match("GET", "/api/certificates") is None
    assert routes.match("POST", "/api/certificates") is not None


@pytest.mark.parametrize(
    ("prefix", "path", "matches"),
    [
        ("api", "/api/hello", True),
        ("api", "/hello", False),
        ("", "/hello", True),
        ("v1/api", "/v1/api/hello", True),
        ("/custom/", "/custom/hello", True),
    ],
)
def test_route_prefix(prefix: str, path: str, matches: bool) -> None:
    routes: RouteTable[str] = RouteTable(prefix)
    routes.add("hello", None, "hello")
    assert (routes.match("GET", path) is not None) == matches
