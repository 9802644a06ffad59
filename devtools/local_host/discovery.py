"""Find an app's functions the way the Python worker indexes them.

Import the script (function_app.py, or PYTHON_SCRIPT_FILE_NAME), take its single FunctionApp,
and read each function's bindings from the same JSON the worker sends the host, so blueprints,
@app.function_name and generic bindings all come out exactly as Azure sees them.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from azure.functions.decorators.function_app import Function, FunctionRegister

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER = "queueTrigger"
SUPPORTED_TRIGGERS = (HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER)
SUPPORTED_OUTPUTS = ("http", "queue")
CONTEXT_PARAMETER = "context"


class AppLoadError(RuntimeError):
    """The app cannot be indexed; the host would show this and run no function."""


@dataclass(frozen=True)
class Binding:
    """One binding as function.json would hold it (camelCase keys, enums as strings)."""

    type: str
    name: str
    direction: str
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        for name, value in self.properties.items():
            if name.lower() == key.lower():
                return value
        return default

    @property
    def is_output(self) -> bool:
        return self.direction.upper() in ("OUT", "INOUT")


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger: Binding
    bindings: tuple[Binding, ...]
    callable: Callable[..., Any] = field(compare=False)
    parameters: tuple[str, ...] = ()
    annotations: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def is_http(self) -> bool:
        return self.trigger.type == HTTP_TRIGGER

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.callable)

    @property
    def outputs(self) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.is_output)

    @property
    def inputs(self) -> tuple[Binding, ...]:
        """Non-trigger input bindings (blob, table, ...)."""
        return tuple(b for b in self.bindings if not b.is_output and b is not self.trigger)

    def unsupported_bindings(self) -> list[Binding]:
        return [*self.inputs, *(b for b in self.outputs if b.type not in SUPPORTED_OUTPUTS)]


def _script_name() -> str:
    return os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")


def import_app_module(app_dir: Path) -> ModuleType:
    """Import the app script from `app_dir` (put first on sys.path, as the worker does)."""
    script = app_dir / _script_name()
    if not script.is_file():
        raise AppLoadError(f"{script} not found: is --app-dir the folder that holds host.json and {script.name}?")
    path = str(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    module_name = script.stem
    sys.modules.pop(module_name, None)  # a second LocalHost in one process re-reads the script
    try:
        return importlib.import_module(module_name)
    except Exception:
        raise AppLoadError(f"importing {script.name} failed:\n{traceback.format_exc()}") from None


def find_function_app(module: ModuleType) -> FunctionRegister:
    """The one FunctionApp at module top level (the worker refuses none or several)."""
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if not apps:
        raise AppLoadError(f"no FunctionApp instance at the top level of {module.__name__}")
    if len(apps) > 1:
        raise AppLoadError(f"more than one FunctionApp instance in {module.__name__}; the worker allows one")
    return apps[0]


def _type_hints(target: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {k: p.annotation for k, p in inspect.signature(target).parameters.items()}


def _spec(function: Function) -> FunctionSpec:
    name = function.get_function_name() or function.get_user_function().__name__
    document = json.loads(function.get_function_json())
    bindings = tuple(
        Binding(str(b.get("type")), str(b.get("name")), str(b.get("direction", "IN")), b)
        for b in document.get("bindings", [])
    )
    trigger = next((b for b in bindings if b.type.lower().endswith("trigger")), None)
    if trigger is None:
        raise AppLoadError(f"function {name} has no trigger")
    user_function = function.get_user_function()
    parameters = tuple(inspect.signature(user_function).parameters)
    declared = {b.name for b in bindings if b.name != "$return"}
    missing_in_bindings = [p for p in parameters if p not in declared and p != CONTEXT_PARAMETER]
    missing_in_python = sorted(declared - set(parameters))
    if missing_in_bindings:
        raise AppLoadError(
            f"function {name}: parameters {missing_in_bindings} are declared in Python "
            "but not in the function decorators"
        )
    if missing_in_python:
        raise AppLoadError(
            f"function {name}: bindings {missing_in_python} are declared in the function "
            "decorators but not in Python"
        )
    return FunctionSpec(name, trigger, bindings, user_function, parameters, _type_hints(user_function))


def discover_functions(app_dir: Path) -> list[FunctionSpec]:
    """Import the app and describe every function it registers, blueprints included."""
    app = find_function_app(import_app_module(app_dir))
    try:
        functions = app.get_functions()  # builds and validates; may only be called once per app
    except Exception as err:
        raise AppLoadError(f"indexing the FunctionApp failed: {err}") from None
    return [_spec(f) for f in functions]
