"""`make run`: Azurite + the Key Vault and ARM emulators + the function app, stopped together by Ctrl-C.

Runs the app with Azure Functions Core Tools (`func start`) when it is on PATH, else with our
local host. State lives under .data/ and survives restarts. `--second-vault` also starts a second
Key Vault emulator on 9443 (same certificate), known to ARM as the vault `second`; name it in
local.settings.json's KEY_VAULT_URLS (and KEY_VAULT_RESOURCE_IDS) to use it.
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time

from devtools.processes import ROOT, Service, arm_emulator, azurite, function_host, key_vault_emulator, port_open

DATA = ROOT / ".data"
APP_PORT = 7071
SECOND_VAULT_PORT = 9443


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--second-vault", action="store_true", help="a second Key Vault emulator on 9443")
    second = parser.parse_args(argv).second_vault
    settings = ROOT / "local.settings.json"
    if not settings.exists():
        shutil.copy(ROOT / "local.settings.sample.json", settings)
        print("created local.settings.json from local.settings.sample.json")
    for sub in ("azurite", "keyvault", "keyvault2", "arm", "logs"):
        (DATA / sub).mkdir(parents=True, exist_ok=True)
    ports = (7071, 8443, 8444, 8445, 10000, 10001, 10002, *([SECOND_VAULT_PORT] if second else []))
    busy = [p for p in ports if port_open(p)]
    if busy:
        print(f"ports already in use: {busy}; stop whatever holds them (an earlier `make run`?)", file=sys.stderr)
        return 1
    services = [
        azurite(10000, 10001, 10002, DATA / "azurite", in_memory=False, log_path=DATA / "logs" / "azurite.log"),
        key_vault_emulator(8443, DATA / "keyvault", DATA / "keyvault", log_path=DATA / "logs" / "keyvault.log"),
        *([_second_vault()] if second else []),
        # ARM on 8444 (subscription 11111111-...), the TLS front on 8445; imports from the vault above.
        arm_emulator(
            8444,
            8445,
            DATA / "arm",
            DATA / "arm",
            "https://127.0.0.1:8443",
            DATA / "keyvault" / "emulator-cert.pem",
            log_path=DATA / "logs" / "arm.log",
            dns_port=8053,  # the dnsZones' TXT records over DNS (UDP+TCP), for an ACME CA's DNS-01 checks
            extra_vaults={"second": f"https://127.0.0.1:{SECOND_VAULT_PORT}"} if second else None,
        ),
    ]
    if shutil.which("func"):
        services.append(Service("func", ["func", "start", "--port", str(APP_PORT)], lambda: port_open(APP_PORT)))
    else:
        services.append(function_host(APP_PORT, {}, str(settings)))
    return run(services)


def _second_vault() -> Service:
    """Serves .data/keyvault's certificate, so KEY_VAULT_EMULATOR_CERT trusts both vaults."""
    log = DATA / "logs" / "keyvault2.log"
    return key_vault_emulator(SECOND_VAULT_PORT, DATA / "keyvault2", DATA / "keyvault", log_path=log)


def run(services: list[Service]) -> int:
    started: list[Service] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for service in services:
            t0 = time.monotonic()
            service.start()
            started.append(service)
            service.wait_ready()
            print(f"{service.name} ready in {time.monotonic() - t0:.1f}s")
        print(f"certsync is running: http://127.0.0.1:{APP_PORT}/api/health  (Ctrl-C stops everything)")
        while not stopping:
            for service in started:
                if service.process and service.process.poll() is not None:
                    print(f"{service.name} exited ({service.process.returncode}); stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        for service in reversed(started):
            service.stop()
        print("stopped")


if __name__ == "__main__":
    sys.exit(main())
