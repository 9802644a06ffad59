"""The deployment package, run the way Azure runs it, before anyone deploys it.

The package is built with `.funcignore` exactly as `func azure functionapp publish` builds it
(devtools/package.py), `requirements.txt` alone is installed into a fresh virtualenv, and our
local host serves the package folder with that virtualenv's interpreter against the local stack.
Only the host itself (`devtools/`, not part of the package) comes from the repository: the app's
modules, `host.json`, the dashboard and the OpenAPI document all come from the package, so a file
the app reads at run time that publishing leaves out fails here.
"""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from devtools.package import PackageSummary, build_package
from devtools.processes import ROOT, app_settings, free_port, package_host
from functions.dashboard import ASSETS
from tests.conftest import Api

PASSWORD = "package-smoke-password-5d1c"
HOST_ONLY_PACKAGES = ("azure-storage-blob",)


@dataclass(frozen=True)
class Package:
    folder: Path
    summary: PackageSummary


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Package:
    folder = tmp_path_factory.mktemp("package") / "app"
    return Package(folder, build_package(folder))


@pytest.fixture(scope="module")
def fresh_python(package: Package, tmp_path_factory) -> Path:
    """A new virtualenv holding requirements.txt and nothing else (the dev tools are not there)."""
    target = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "-r", str(package.folder / "requirements.txt")], check=True, timeout=600)
    return python


@pytest.fixture(scope="module")
def host_imports(tmp_path_factory) -> Path:
    """The host, which Azure brings itself: `devtools` from the repository, and the packages only
    the host uses (its timer leases need the blob SDK) at their requirements-dev.txt pins, without
    their dependencies, so every package the app imports still comes from requirements.txt."""
    folder = tmp_path_factory.mktemp("imports")
    (folder / "devtools").symlink_to(ROOT / "devtools", target_is_directory=True)
    pins = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
            if line.split("==")[0].strip() in HOST_ONLY_PACKAGES]
    assert len(pins) == len(HOST_ONLY_PACKAGES), pins
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    subprocess.run([*install, "--target", str(folder), *pins], check=True, timeout=600)
    return folder


@pytest.fixture(scope="module")
def package_api(
    storage_and_vault, package: Package, fresh_python: Path, host_imports: Path, tmp_path_factory
) -> Iterator[Api]:
    connection, vault_url, cert, logs = storage_and_vault
    port = free_port()
    # Own tables and queue: the session's host (repository code) must not run this host's operations.
    env = app_settings(
        connection, vault_url, cert,
        CERTSYNC_TABLE_PREFIX="package", OPERATIONS_QUEUE="package-operations", AUTO_SYNC_AFTER_RENEWAL="false",
    )  # fmt: skip
    host = package_host(fresh_python, package.folder, host_imports, port, env, tmp_path_factory.mktemp("pkghost"),
                        log_path=logs / "package-host.log")
    host.start()
    try:
        host.wait_ready(90)
        yield Api(f"http://127.0.0.1:{port}")
    finally:
        host.stop()


def test_package_holds_the_app_and_leaves_out_the_tooling(package: Package):
    files = set(package.summary.files)
    assert {"function_app.py", "host.json", "requirements.txt", "docs/openapi.json"} <= files
    assert {f"dashboard/{name}" for name in ASSETS} <= files
    assert not {f for f in files if f.split("/")[0] in {"tests", "devtools", "bench", "infra", "node_modules", ".venv"}}
    assert not {f for f in files if f.startswith("docs/") and f != "docs/openapi.json"}
    assert not {f for f in files if "__pycache__" in f or f.startswith(".") or "local.settings" in f}
    assert "requirements-dev.txt" not in files
    on_disk = sorted(p.relative_to(package.folder).as_posix() for p in package.folder.rglob("*") if p.is_file())
    assert on_disk == sorted(files)


def test_the_app_imports_only_the_package_and_requirements(fresh_python: Path, host_imports: Path, tmp_path: Path):
    probe = (
        "import importlib.util as u, json\n"
        "names = ('shared', 'functions', 'pytest', 'azure.core', 'azure.storage.queue', 'cryptography', 'devtools')\n"
        "print(json.dumps({n: str(s.origin) if (s := u.find_spec(n)) else None for n in names}))"
    )
    found = subprocess.run(
        [str(fresh_python), "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(host_imports)},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    origins = json.loads(found.stdout)
    assert origins["shared"] is None and origins["functions"] is None and origins["pytest"] is None
    venv = str(fresh_python.parent.parent)
    assert all(origins[n].startswith(venv) for n in ("azure.core", "azure.storage.queue", "cryptography")), origins
    assert origins["devtools"].startswith(str(host_imports))


def test_health(package_api: Api):
    response = package_api.call("GET", "health")
    assert response.status_code == 200, response.text
    assert {d["status"] for d in response.json()["dependencies"].values()} == {"Healthy"}


def test_openapi_document_is_served(package_api: Api):
    response = package_api.call("GET", "openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))


def test_dashboard_and_every_asset(package_api: Api):
    page = package_api.call("GET", "dashboard")
    assert page.status_code == 200 and "<html" in page.text.lower()
    for name in ASSETS:
        response = package_api.call("GET", f"dashboard/{name}")
        assert response.status_code == 200, (name, response.text[:200])
        if name != "index.html":  # the page is a template filled per request
            assert response.content == (ROOT / "dashboard" / name).read_bytes(), name


def test_create_renew_sync_export(package_api: Api):
    name = "package-smoke"
    hosts = ["smoke.example.com"]
    created = package_api.wait_operation(package_api.call("POST", "certificates", {"name": name, "hostnames": hosts}))
    assert created["status"] == "Succeeded", created
    first = package_api.call("GET", f"certificates/{name}").json()
    link = package_api.call("POST", "links", {"name": f"{name}-link", "certificate": name})
    assert link.status_code == 201, link.text
    bound = package_api.call("PUT", f"apps/web/bindings/{hosts[0]}", {"link": f"{name}-link"})
    assert bound.status_code == 201, bound.text

    renewed = package_api.wait_operation(package_api.call("POST", f"certificates/{name}/renew"))
    assert renewed["status"] == "Succeeded", renewed
    after_renewal = package_api.call("GET", f"certificates/{name}").json()
    assert after_renewal["thumbprint"] != first["thumbprint"]
    assert after_renewal["syncAvailable"] is True  # AUTO_SYNC_AFTER_RENEWAL=false: the link waits

    synced = package_api.wait_operation(package_api.call("POST", f"certificates/{name}/sync"))
    assert synced["status"] == "Succeeded", synced
    overview = package_api.call("GET", f"certificates/{name}").json()
    [state] = overview["linkedCertificates"]
    assert state["inSync"] is True and state["thumbprint"] == after_renewal["thumbprint"]
    assert [b["thumbprint"] for b in state["bindings"]] == [after_renewal["thumbprint"]]

    exported = package_api.call("POST", f"certificates/{name}/export", {"format": "pfx", "password": PASSWORD})
    assert exported.status_code == 200, exported.text
    loaded = pkcs12.load_pkcs12(exported.content, PASSWORD.encode())
    assert loaded.cert is not None and loaded.key is not None
    assert loaded.cert.certificate.fingerprint(hashes.SHA1()).hex().upper() == after_renewal["thumbprint"]
