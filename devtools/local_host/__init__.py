"""A local Azure Functions host for machines without Core Tools: `python -m devtools.local_host`.

Runs the same function_app.py as Core Tools and Azure (Python v2 model): HTTP, timer and
Storage-queue triggers, queue output bindings, and the admin endpoint. See README.md here.
"""
from devtools.local_host.discovery import AppLoadError, FunctionSpec
from devtools.local_host.host import LocalHost

__all__ = ["AppLoadError", "FunctionSpec", "LocalHost"]
