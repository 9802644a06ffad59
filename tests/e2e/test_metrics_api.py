"""GET /api/metrics over real HTTP on the local host (Azurite, the Key Vault emulator): the state
gauges after an issuance, and this instance's operation and dependency counters moving with it."""
from __future__ import annotations

from datetime import datetime

from tests.service.test_metrics import parse, value


def _total(values: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in values.items() if n == name and wanted <= set(lbls))


def test_metrics_after_an_issuance(api, unique):
    before = parse(api.call("GET", "metrics").text)
    name = f"metrics-{unique}"
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))
    assert op["status"] == "Succeeded", op
    cert = api.call("GET", f"certificates/{name}").json()

    response = api.call("GET", "metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    after = parse(response.text)
    not_after = datetime.fromisoformat(cert["notAfter"].replace("Z", "+00:00")).timestamp()
    assert value(after, "certsync_certificate_expiration_timestamp_seconds", certificate=name) == not_after
    assert value(after, "certsync_certificate_ready_status", certificate=name, condition="True") == 1
    assert value(after, "certsync_links_out_of_sync", certificate=name) == 0
    ops = "certsync_operations_total"
    issued = {"kind": "issue", "outcome": "Succeeded"}
    assert _total(after, ops, **issued) >= _total(before, ops, **issued) + 1  # other tests may issue meanwhile
    for service in ("KeyVault", "Table", "Queue"):
        requests = "certsync_dependency_requests_total"
        answered = {"service": service, "status_class": "2xx"}
        grew = _total(after, requests, **answered) > _total(before, requests, **answered)
        assert grew, service

