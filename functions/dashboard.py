"""GET /api/dashboard (the page) and /api/dashboard/{file} (its scripts and style sheet).

Only the files named in ASSETS are served: the request picks a key of that table, never a path,
so nothing outside dashboard/ can be reached. Like the API, both routes need the function key.
In a browser the key arrives as `?code=`; the page hands it to its own files (query string on
the script and style URLs, and an import map for the modules the scripts import) and the
scripts send it with every API call.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import azure.functions as func

from functions.http import error_response

bp = func.Blueprint()
FOLDER = Path(__file__).resolve().parent.parent / "dashboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Every file of dashboard/ that a browser may ask for; tests/browser checks the list is complete.
ASSETS = (
    "index.html",
    "app.css",
    "app.js",
    "api.js",
    "dom.js",
    "format.js",
    "components.js",
    "bindings.js",
    "app-service.js",
    "operations.js",
    "certificates-view.js",
    "overview-view.js",
    "links-view.js",
    "health-view.js",
    "export-dialog.js",
    "favicon.svg",
)
MODULES = tuple(name for name in ASSETS if name.endswith(".js"))
# Function keys are base64url-like; anything else is not passed on (it could break out of HTML).
KEY = re.compile(r"^[A-Za-z0-9_\-=]{1,256}$")
SAFE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@bp.route(route="dashboard", methods=["GET"])
def dashboard_page(req: func.HttpRequest) -> func.HttpResponse:
    return _page(req, _base_path(req, asset=False))


@bp.route(route="dashboard/{file}", methods=["GET"])
def dashboard_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("file", "")
    if name not in ASSETS:
        return error_response(404, "NotFound", f"the dashboard has no file {name[:60]!r}")
    if name == "index.html":
        return _page(req, _base_path(req, asset=True))
    return _file(name, (FOLDER / name).read_bytes())


def _page(req: func.HttpRequest, base: str) -> func.HttpResponse:
    """index.html with the asset URLs (and the function key, when given) filled in."""
    code = req.params.get("code") or ""
    suffix = f"?code={quote(code, safe='')}" if KEY.match(code) else ""
    import_map = ""
    if suffix:
        imports = {f"{base}/{m}": f"{base}/{m}{suffix}" for m in MODULES}
        import_map = json.dumps({"imports": imports}, separators=(",", ":"))
    html = (FOLDER / "index.html").read_text(encoding="utf-8")
    html = html.replace("{{base}}", base).replace("{{key}}", suffix)
    script = f'<script type="importmap">{import_map}</script>' if import_map else ""
    html = html.replace("{{importmap}}", script)
    return _file("index.html", html.encode("utf-8"), _hash(import_map) if import_map else "")


def _file(name: str, content: bytes, script_hash: str = "") -> func.HttpResponse:
    hashes = f" '{script_hash}'" if script_hash else ""
    return func.HttpResponse(
        content,
        status_code=200,
        headers={
            "Content-Type": CONTENT_TYPES[Path(name).suffix],
            "Cache-Control": "no-cache",
            "Content-Security-Policy": POLICY.format(hashes=hashes),
            "X-Content-Type-Options": "nosniff",
            # The page URL may carry the function key: never send it to another site.
            "Referrer-Policy": "no-referrer",
        },
    )


def _hash(inline_script: str) -> str:
    digest = hashlib.sha256(inline_script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _base_path(req: func.HttpRequest, *, asset: bool) -> str:
    """The URL path of the dashboard (`/api/dashboard` under the default route prefix)."""
    path = urlsplit(req.url).path.rstrip("/")
    if asset:
        path = path.rsplit("/", 1)[0]
    return path if path and SAFE_PATH.match(path) else "/api/dashboard"
