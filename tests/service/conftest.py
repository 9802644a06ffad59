"""Service ring: the real use cases in shared/ on the in-memory fakes, with the real local CA.
Race interleavings are scripted with the fakes' hooks (tests/fakes/hooks.py): one actor is
paused at a chosen step while another runs to the end, then resumed. Nothing is started."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from shared import pki
from shared.errors import CertsyncError
from shared.issuers.base import IssueRequest
from shared.lifecycle import NewCertificate, create_certificate
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import Certificate, OperationStatus
from shared.vault import PFX_CONTENT_TYPE, SecretVersion
from tests.fakes.appservice import FakeAppService
from tests.fakes.clock import TickingClock
from tests.fakes.context import Fakes, drain, fake_context

T = TypeVar("T")
HOST = "www.example.com"
SUB = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"


@pytest.fixture
def fakes() -> Fakes:
    """Every Key Vault write lands one second after the previous one, as in real time."""
    return fake_context(vault_clock=TickingClock(timedelta(seconds=1)))


def app_service_fakes() -> Fakes:
    """As `fakes`, with certsync managing the subscription SUB, whose vault VAULT_ID is the fake vault."""
    return fake_context(
        vault_clock=TickingClock(timedelta(seconds=1)), APP_SERVICE_SUBSCRIPTIONS=SUB, KEY_VAULT_RESOURCE_ID=VAULT_ID
    )


def arm_of(fakes: Fakes) -> FakeAppService:
    assert fakes.app_service is not None
    return fakes.app_service


def issued(fakes: Fakes, name: str, hostnames: tuple[str, ...] = (HOST,)) -> Certificate:
    op = create_certificate(fakes.ctx, NewCertificate(name=name, hostnames=hostnames, key_type=pki.KeyType.EC256))
    drain(fakes)
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
    return fakes.ctx.certificates.get(name)


def linked_and_bound(fakes: Fakes, cert: Certificate, link: str, apps: tuple[str, ...] = ("app1",)) -> None:
    create_link(fakes.ctx, NewLink(name=link, scope="rg", certificate=cert.name))
    for app in apps:
        put_binding(fakes.ctx, BindingRequest(app=app, hostname=HOST, link=link))


def upload_version(fakes: Fakes, secret_name: str, hostnames: tuple[str, ...] = (HOST,)) -> tuple[SecretVersion, str]:
    """What a person does outside certsync: put a new PFX version into the secret."""
    key = pki.generate_private_key(pki.KeyType.EC256)
    result = fakes.ctx.issuer("local").issue(IssueRequest.for_key(hostnames=hostnames, private_key=key))
    bundle = pki.CertificateBundle(private_key=key, certificate=result.certificate, chain=result.chain)
    version = fakes.vault.set_secret(secret_name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
    return version, bundle.thumbprint


def answer(call: Callable[[], T]) -> T | CertsyncError:
    """What a caller gets back: the result, or the error it would see as an HTTP answer."""
    try:
        return call()
    except CertsyncError as err:
        return err


class WorkerCrashed(BaseException):
    """The worker process dies here: nothing after this point runs, no handler records it."""
