"""Builders for integration tests: issue certificates and write PFX versions like a person would."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from shared import pki
from shared.app_context import AppContext
from shared.issuers.base import IssueRequest
from shared.lifecycle import NewCertificate, create_certificate
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import Certificate, OperationStatus
from shared.vault import PFX_CONTENT_TYPE
from shared.composition import build_engine
from shared.queueing import parse_message


ENGINE = build_engine()  # the handlers and last delivery the app composes at start


def issued(ctx: AppContext, name: str, hostnames: list[str], **kw) -> Certificate:
    op = create_certificate(ctx, NewCertificate(name=name, hostnames=tuple(hostnames), **kw))
    drain(ctx)
    assert ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED, ctx.operations.get(op.id)
    return ctx.certificates.get(name)


def linked_and_bound(ctx: AppContext, cert: Certificate, link: str, bindings: list[tuple[str, str]]) -> None:
    create_link(ctx, NewLink(name=link, scope="rg", certificate=cert.name))
    for app, host in bindings:
        put_binding(ctx, BindingRequest(app=app, hostname=host, link=link))


def upload_new_version(secret_client, secret_name: str, hostnames: list[str], ctx: AppContext) -> pki.CertificateBundle:
    """What a person does outside certsync: put a new PFX version into the secret."""
    key = pki.generate_private_key(pki.KeyType.EC256)
    result = ctx.issuer("local").issue(IssueRequest.for_key(hostnames=tuple(hostnames), private_key=key))
    bundle = pki.CertificateBundle(private_key=key, certificate=result.certificate, chain=result.chain)
    secret_client.set_secret(secret_name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
    return bundle


def expired_bundle(hostnames: list[str]) -> pki.CertificateBundle:
    key = pki.generate_private_key(pki.KeyType.EC256)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pki.CertificateBundle(private_key=key, certificate=cert, chain=())


def drain(ctx: AppContext, rounds: int = 20) -> list[str]:
    """Run queued operations in this process, as the queue trigger would, until the queue is empty."""
    ran: list[str] = []
    for _ in range(rounds):
        messages = list(ctx.queue.client.receive_messages(messages_per_page=32, visibility_timeout=60))
        if not messages:
            return ran
        for message in messages:
            op_id = parse_message(message.content)
            ENGINE.run(ctx, op_id)
            ran.append(op_id)
            ctx.queue.client.delete_message(message)
    return ran
