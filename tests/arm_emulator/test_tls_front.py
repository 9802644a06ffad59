"""The TLS front: the certificate served for a hostname follows the current SSL bindings (SNI)."""

from __future__ import annotations

import hashlib
import socket
import ssl

from azure.mgmt.web.models import HostNameBinding, Site

from devtools.arm_emulator import EmulatorHandle

from .conftest import AppWorld
from .support import LOCATION, make_pfx


def _handshake(port: int, server_name: str | None, request: bytes | None = None) -> tuple[str, bytes]:
    """Thumbprint of the certificate served for server_name, and the reply to `request`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the point is to see what is served, trusted or not
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
        reply = b""
        if request is not None:
            tls.sendall(request)
            while chunk := tls.recv(4096):
                reply += chunk
    return hashlib.sha1(der).hexdigest().upper(), reply


def _get(host: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def _bind(world: AppWorld, site: str, host: str, thumbprint: str | None, slot: str | None = None) -> None:
    binding = HostNameBinding(ssl_state="SniEnabled" if thumbprint else "Disabled", thumbprint=thumbprint)
    if slot:
        world.web.web_apps.create_or_update_host_name_binding_slot("apps", site, host, slot, binding)
    else:
        world.web.web_apps.create_or_update_host_name_binding("apps", site, host, binding)


def _default_thumbprint(arm: EmulatorHandle) -> str:
    der = ssl.PEM_cert_to_DER_cert(arm.cert_path.read_text())
    return hashlib.sha1(der).hexdigest().upper()


def test_serves_the_bound_certificate_and_names_the_site(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))
    _bind(world, "shop", "shop.example.com", cert.thumbprint)

    thumbprint, reply = _handshake(arm.tls_port, "shop.example.com", _get("shop.example.com"))

    assert thumbprint == cert.thumbprint
    assert reply.startswith(b"HTTP/1.1 200") and b"<h1>shop</h1>" in reply


def test_served_certificate_changes_when_the_binding_moves(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    first = world.import_cert("first", make_pfx("shop.example.com"))
    second = world.import_cert("second", make_pfx("shop.example.com"))
    _bind(world, "shop", "shop.example.com", first.thumbprint)
    before, _ = _handshake(arm.tls_port, "shop.example.com")

    _bind(world, "shop", "shop.example.com", second.thumbprint)
    after, _ = _handshake(arm.tls_port, "shop.example.com")

    assert (before, after) == (first.thumbprint, second.thumbprint)


def test_renewal_through_key_vault_changes_the_served_certificate(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    old = world.import_cert("shop", make_pfx("shop.example.com"))
    _bind(world, "shop", "shop.example.com", old.thumbprint)
    renewed = make_pfx("shop.example.com")

    world.import_cert("shop", renewed)

    assert _handshake(arm.tls_port, "shop.example.com")[0] == renewed.thumbprint


def test_slots_and_wildcards(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    world.web.web_apps.begin_create_or_update_slot("apps", "shop", "staging", Site(location=LOCATION)).result()
    wildcard = world.import_cert("wild", make_pfx("*.example.com"))
    _bind(world, "shop", "staging.example.com", wildcard.thumbprint, slot="staging")

    thumbprint, reply = _handshake(arm.tls_port, "staging.example.com", _get("staging.example.com"))

    assert thumbprint == wildcard.thumbprint
    assert b"<h1>shop/staging</h1>" in reply


def test_unknown_or_missing_sni_gets_the_default_certificate_and_a_404(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    _bind(world, "shop", "plain.example.com", None)  # bound without SSL: not served over TLS

    unknown, reply = _handshake(arm.tls_port, "nobody.example.com", _get("nobody.example.com"))
    plain, _ = _handshake(arm.tls_port, "plain.example.com")
    no_sni, _ = _handshake(arm.tls_port, None)

    assert unknown == plain == no_sni == _default_thumbprint(arm)
    assert reply.startswith(b"HTTP/1.1 404") and b"nobody.example.com" in reply


def test_removed_binding_stops_being_served(world: AppWorld, arm: EmulatorHandle) -> None:
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))
    _bind(world, "shop", "shop.example.com", cert.thumbprint)

    world.web.web_apps.delete_host_name_binding("apps", "shop", "shop.example.com")

    assert _handshake(arm.tls_port, "shop.example.com")[0] == _default_thumbprint(arm)
