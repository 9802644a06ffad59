"""HTTP route templates read the way the Functions host (ASP.NET Core routing) reads them.

Supports `{name}`, optional `{name?}`, defaults `{name=x}`, constraints (`{id:int}`,
`{name:alpha}`, `{code:regex(^[a-z]{{2}}$)}`, ...), catch-all `{*rest}`, several parameters in
one segment (`{file}.{ext}`) and case-insensitive literals. Pure: no I/O, table-tested.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"^[+-]?\d+$")


class RouteTemplateError(ValueError):
    """The route cannot be used; the host refuses such a function at start, and so do we."""


def _integer(value: str, bounds: tuple[int, int] = _INT64) -> int | None:
    if not _INTEGER.match(value):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _numbers(args: tuple[str, ...], count: int, name: str) -> list[int]:
    if len(args) != count or any(_integer(a.strip()) is None for a in args):
        raise RouteTemplateError(f"constraint {name!r} takes {count} integer argument(s)")
    return [int(a) for a in args]


@dataclass(frozen=True)
class Constraint:
    """One inline constraint; unknown names fail at parse time, as the host does."""

    name: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.accepts("")  # validates the name and argument count once, at parse time

    def accepts(self, value: str) -> bool:
        name, args = self.name.lower(), self.args
        simple = {
            "int": lambda: _integer(value, _INT32) is not None,
            "long": lambda: _integer(value) is not None,
            "bool": lambda: value.lower() in ("true", "false"),
            "guid": lambda: _is_guid(value),
            "datetime": lambda: _is_datetime(value),
            "decimal": lambda: _is_float(value),
            "double": lambda: _is_float(value),
            "float": lambda: _is_float(value),
            "alpha": lambda: bool(re.fullmatch(r"[A-Za-z]+", value)),
            "required": lambda: value != "",
        }
        if name in simple:
            if args:
                raise RouteTemplateError(f"constraint {self.name!r} takes no arguments")
            return simple[name]()
        if name == "regex":
            if len(args) != 1:
                raise RouteTemplateError("constraint 'regex' takes one pattern")
            try:
                return re.search(args[0], value, re.IGNORECASE) is not None
            except re.error as err:
                raise RouteTemplateError(f"regex constraint {args[0]!r} is invalid: {err}") from None
        if name in ("minlength", "maxlength"):
            (limit,) = _numbers(args, 1, name)
            return len(value) >= limit if name == "minlength" else len(value) <= limit
        if name == "length":
            if len(args) == 1:
                (exact,) = _numbers(args, 1, name)
                return len(value) == exact
            low, high = _numbers(args, 2, name)
            return low <= len(value) <= high
        if name in ("min", "max"):
            (limit,) = _numbers(args, 1, name)
            number = _integer(value)
            return number is not None and (number >= limit if name == "min" else number <= limit)
        if name == "range":
            low, high = _numbers(args, 2, name)
            number = _integer(value)
            return number is not None and low <= number <= high
        raise RouteTemplateError(f"the route constraint {self.name!r} is not supported")


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    catch_all: bool = False
    default: str | None = None

    def accepts(self, value: str) -> bool:
        return all(c.accepts(value) for c in self.constraints)


Part = str | Parameter


def _read_group(text: str, start: int) -> tuple[str, int]:
    """Text inside the parentheses opening at `start`, honouring nesting and backslashes."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    raise RouteTemplateError(f"unbalanced parentheses in {text!r}")


def _parse_parameter(token: str) -> Parameter:
    stars = len(token) - len(token.lstrip("*"))
    if stars > 2:
        raise RouteTemplateError(f"{{{token}}} has too many '*'")
    i = stars
    while i < len(token) and token[i] not in ":=?":
        i += 1
    name = token[stars:i]
    if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RouteTemplateError(f"{{{token}}} does not start with a valid parameter name")
    constraints: list[Constraint] = []
    while i < len(token) and token[i] == ":":
        j = i + 1
        while j < len(token) and token[j].isalnum():
            j += 1
        constraint_name = token[i + 1:j]
        args: tuple[str, ...] = ()
        if j < len(token) and token[j] == "(":
            inner, j = _read_group(token, j)
            args = (inner,) if constraint_name.lower() == "regex" else tuple(inner.split(","))
        if not constraint_name:
            raise RouteTemplateError(f"{{{token}}} has an empty constraint")
        constraints.append(Constraint(constraint_name, args))
        i = j
    default = None
    optional = False
    if i < len(token) and token[i] == "=":
        default, i = token[i + 1:], len(token)
    elif i < len(token) and token[i] == "?":
        optional, i = True, i + 1
    if i != len(token):
        raise RouteTemplateError(f"cannot read {{{token}}}")
    if stars and optional:
        raise RouteTemplateError(f"catch-all {{{token}}} cannot also be optional")
    return Parameter(name, tuple(constraints), optional, bool(stars), default)


def _parse_segment(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    literal, i = "", 0
    while i < len(text):
        char = text[i]
        if char == "{" and text.startswith("{{", i):
            literal, i = literal + "{", i + 2
        elif char == "}" and text.startswith("}}", i):
            literal, i = literal + "}", i + 2
        elif char == "{":
            token, j = "", i + 1
            while True:
                if j >= len(text):
                    raise RouteTemplateError(f"unclosed '{{' in segment {text!r}")
                if text.startswith("}}", j) or text.startswith("{{", j):
                    token, j = token + text[j], j + 2
                elif text[j] == "}":
                    break
                else:
                    token, j = token + text[j], j + 1
            if literal:
                parts.append(literal)
                literal = ""
            if parts and isinstance(parts[-1], Parameter):
                raise RouteTemplateError(f"segment {text!r} has two parameters with no literal between")
            parts.append(_parse_parameter(token))
            i = j + 1
        elif char == "}":
            raise RouteTemplateError(f"unmatched '}}' in segment {text!r}")
        else:
            literal, i = literal + char, i + 1
    if literal:
        parts.append(literal)
    return tuple(parts)


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]
    pattern: re.Pattern[str] = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> Segment:
        parts = _parse_segment(text)
        if not parts:
            raise RouteTemplateError("a route cannot have an empty segment ('//')")
        params = [p for p in parts if isinstance(p, Parameter)]
        if len(parts) > 1 and any(p.optional or p.catch_all for p in params):
            raise RouteTemplateError(f"segment {text!r}: optional and catch-all parameters must fill a segment")
        # Greedy groups: like ASP.NET's right-to-left matching, "{file}.{ext}" reads "a.b.c" as a.b + c.
        regex = "".join("(.+)" if isinstance(p, Parameter) else re.escape(p) for p in parts)
        return cls(parts, re.compile(regex, re.IGNORECASE | re.DOTALL))

    @property
    def sole_parameter(self) -> Parameter | None:
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, Parameter) else None

    @property
    def precedence(self) -> int:
        """ASP.NET's inbound order: literal, complex, constrained, plain, catch-all."""
        param = self.sole_parameter
        if param is None:
            return 1 if all(isinstance(p, str) for p in self.parts) else 2
        if param.catch_all:
            return 5
        return 3 if param.constraints else 4

    def match(self, value: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(value)
        if not found:
            return None
        params = [p for p in self.parts if isinstance(p, Parameter)]
        values = dict(zip((p.name for p in params), found.groups(), strict=False))
        return values if all(p.accepts(values[p.name]) for p in params) else None


def _split_path(path: str) -> list[str]:
    trimmed = path.strip("/")
    return [unquote(s) for s in trimmed.split("/")] if trimmed else []


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        trimmed = text.strip()
        trimmed = trimmed[2:] if trimmed.startswith("~/") else trimmed.lstrip("/")
        segments = tuple(Segment.parse(s) for s in trimmed.split("/")) if trimmed else ()
        names: list[str] = []
        for index, segment in enumerate(segments):
            sole = segment.sole_parameter
            if sole and sole.catch_all and index != len(segments) - 1:
                raise RouteTemplateError(f"route {text!r}: a catch-all parameter must be the last segment")
            names += [p.name.lower() for p in segment.parts if isinstance(p, Parameter)]
        if len(names) != len(set(names)):
            raise RouteTemplateError(f"route {text!r} uses a parameter name twice")
        return cls(text, segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.precedence for s in self.segments)

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for decoded path segments, or None; optional values left unset are absent."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            sole = segment.sole_parameter
            if sole is not None and sole.catch_all:
                rest = "/".join(path[index:])
                if rest or sole.default is not None:
                    rest = rest or sole.default or ""
                    if not sole.accepts(rest):
                        return None
                    values[sole.name] = rest
                return values
            if index >= len(path):
                if sole is None or not (sole.optional or sole.default is not None):
                    return None
                if sole.default is not None:
                    values[sole.name] = sole.default
                continue
            found = segment.match(path[index])
            if found is None:
                return None
            values.update(found)
        return values if len(path) <= len(self.segments) else None


@dataclass(frozen=True)
class Route(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    target: T


class RouteTable(Generic[T]):
    """All HTTP functions behind one route prefix; the first route by precedence wins.

    A path that matches only with another method is a 404, not a 405: that is what the
    Functions host answers (azure-functions-host#10098).
    """

    def __init__(self, route_prefix: str) -> None:
        self.route_prefix = route_prefix.strip("/")
        self._prefix = [s.lower() for s in _split_path(self.route_prefix)]
        self._routes: list[Route[T]] = []

    def add(self, template: str, methods: Sequence[str] | None, target: T) -> Route[T]:
        route = Route(RouteTemplate.parse(template), frozenset(m.upper() for m in methods) if methods else None, target)
        self._routes.append(route)
        self._routes.sort(key=lambda r: r.template.precedence)  # stable: ties keep registration order
        return route

    @property
    def routes(self) -> list[Route[T]]:
        return list(self._routes)

    def match(self, method: str, path: str) -> tuple[Route[T], dict[str, str]] | None:
        segments = _split_path(path)
        head = [s.lower() for s in segments[: len(self._prefix)]]
        if head != self._prefix:
            return None
        rest = segments[len(self._prefix):]
        for route in self._routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            values = route.template.match(rest)
            if values is not None:
                return route, values
        return None
