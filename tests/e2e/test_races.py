"""Races over real HTTP (issue #11 defects 1 and 2): requests that must exclude each other, sent
at once, several trials each. Every answer must describe what happened, and the end state must
be the one the answers describe."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

TRIALS = 8


@dataclass(frozen=True)
class Answer:
    method: str
    status: int
    code: str


def all_at_once(base: str, calls: list[tuple[str, str, dict | None]]) -> list[Answer]:
    """Send every call at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(calls))

    def send(call: tuple[str, str, dict | None]) -> Answer:
        method, path, body = call
        with requests.Session() as http:
            barrier.wait()
            response = http.request(method, f"{base}/api/{path}", json=body, timeout=60)
        code = response.json().get("error", {}).get("code", "") if response.content else ""
        return Answer(method, response.status_code, code)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def issue(api, name: str, hostnames: list[str]) -> None:
    body = {"name": name, "hostnames": hostnames, "keyType": "EC256"}
    op = api.wait_operation(api.call("POST", "certificates", body))
    assert op["status"] == "Succeeded", op


def test_deleting_a_certificate_and_linking_to_it_exclude_each_other(api, unique):
    """#11 defect 1: 3 x POST /links {certificate} with 3 x DELETE /certificates/<c>."""
    for trial in range(TRIALS):
        cert = f"race-{unique}-{trial}"
        issue(api, cert, [f"{cert}.example.com"])
        links = [f"{cert}-l{i}" for i in range(3)]
        calls = [("POST", "links", {"name": n, "certificate": cert, "scope": "rg-race"}) for n in links]
        calls += [("DELETE", f"certificates/{cert}", None)] * 3
        answers = all_at_once(api.base, calls)
        posts, deletes = answers[:3], answers[3:]
        assert not [a for a in answers if a.status >= 500], answers
        cert_exists = api.call("GET", f"certificates/{cert}").status_code == 200
        existing = [n for n in links if api.call("GET", f"links/{n}").status_code == 200]
        created = [n for n, a in zip(links, posts, strict=True) if a.status == 201]
        context = (trial, answers, cert_exists, existing)
        assert existing == created, context  # a 201 link exists; a refused one does not
        if any(a.status == 204 for a in deletes):
            assert not cert_exists and not existing, context  # deleted: nothing may link to it
            assert {(a.status, a.code) for a in posts} == {(404, "CertificateNotFound")}, context
        else:
            assert cert_exists and existing, context  # kept: because a link uses it
            assert {(a.status, a.code) for a in deletes} == {(409, "CertificateInUse")}, context


def test_deleting_a_link_and_binding_to_it_exclude_each_other(api, unique):
    """#11 defect 2: 4 x PUT /apps/<a>/bindings/<h> {link} with 4 x DELETE /links/<l>."""
    cert = f"bindrace-{unique}"
    issue(api, cert, [f"{cert}.example.com", f"*.{cert}.example.com"])
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        link, app = f"{cert}-l{trial}", f"app-{unique}-{trial}"
        created = api.call("POST", "links", {"name": link, "certificate": cert, "scope": "rg-race"})
        assert created.status_code == 201, created.text
        hosts = [f"h{i}.{cert}.example.com" for i in range(4)]
        calls = [("PUT", f"apps/{app}/bindings/{h}", {"link": link}) for h in hosts]
        calls += [("DELETE", f"links/{link}", None)] * 4
        answers = all_at_once(api.base, calls)
        puts, deletes = answers[:4], answers[4:]
        link_exists = api.call("GET", f"links/{link}").status_code == 200
        bound = {b["hostname"] for b in api.call("GET", f"apps/{app}/bindings").json()["value"] if b["link"] == link}
        context = (trial, answers, link_exists, bound)
        assert not [a for a in answers if a.status >= 500], context
        assert {a.code for a in deletes} <= {"", "LinkInUse", "LinkNotFound"}, context  # never AlreadyExists
        assert bound == {h for h, a in zip(hosts, puts, strict=True) if a.status in (200, 201)}, context
        if any(a.status == 204 for a in deletes):
            outcomes["deleted"] += 1
            assert not link_exists and not bound, context
            assert {(a.status, a.code) for a in puts} == {(404, "LinkNotFound")}, context
        else:
            outcomes["kept"] += 1
            assert link_exists, context  # nobody deleted it, so nobody may say it is gone
            assert {a.status for a in puts} <= {200, 201} and bound, context
            assert {(a.status, a.code) for a in deletes} == {(409, "LinkInUse")}, context
    print(f"\nbinding/delete races: {dict(outcomes)}")
