"""Log hygiene: tracebacks of unexpected errors are logged, with secret material redacted, and
every line of an operation's work names the operation."""
from __future__ import annotations

import base64
import io
import logging
import os

import pytest

from shared import logs, pki

KEY_PEM = pki.private_key_to_pem(pki.generate_private_key(pki.KeyType.EC256))
PFX_B64 = base64.b64encode(os.urandom(2048)).decode()
CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5MTIzNDU2Nzg5MA==;EndpointSuffix=x"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEiLCJleHAiOjF9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def captured():
    """A handler like the Functions worker's, on a private logger, with the filter installed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger(f"certsync-test-{os.urandom(4).hex()}")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    logs.install(root)
    yield root, stream
    root.removeHandler(handler)


def _raise(message: str) -> None:
    secret_local = PFX_B64  # noqa: F841 - a local holding secret bytes, as real code would
    raise ValueError(message)


@pytest.mark.parametrize(
    "message,secret",
    [
        (f"could not load key:\n{KEY_PEM}", "PRIVATE KEY"),
        (f"bad pfx {PFX_B64}", PFX_B64[:64]),
        (f"storage failed: {CONNECTION}", "c2VjcmV0a2V5MTIzNDU2Nzg5MA"),
        ("export password=hunter2-Zq9 refused", "hunter2-Zq9"),
        (f"call with Authorization: Bearer {TOKEN}", TOKEN),
        (f"token {TOKEN} expired", TOKEN),
        (f"raw bytes {os.urandom(32)!r}", None),
        ("GET /api/metrics?a=1&code=K3y-Zq9_abc== failed", "K3y-Zq9_abc"),
        ("headers {'x-functions-key': 'K3y-Zq9_abc'}", "K3y-Zq9_abc"),
        ("POST https://hooks.slack.com/services/T0/B0/S3cr3tPath failed", "S3cr3tPath"),
        ("POST https://contoso.webhook.office.com/webhookb2/S3cr3tPath/IncomingWebhook/1/2 failed", "S3cr3tPath"),
    ],
    ids=["pem", "pfx", "account-key", "password", "bearer", "jwt", "bytes-repr", "function-key-query",
         "function-key-header", "slack-webhook", "teams-webhook"],
)
def test_a_traceback_is_logged_without_its_secrets(captured, message, secret):
    logger, stream = captured
    try:
        _raise(message)
    except ValueError:
        logger.exception("unexpected error in %s", "export")
    text = stream.getvalue()
    assert "Traceback (most recent call last)" in text and "in _raise" in text  # debuggable
    assert "unexpected error in export" in text
    assert logs.REDACTED in text
    if secret:
        assert secret not in text
    assert "-----BEGIN" not in text or "PRIVATE KEY" not in text


def test_arguments_are_redacted_too(captured):
    logger, stream = captured
    logger.warning("writing %s failed", PFX_B64)
    assert PFX_B64[:64] not in stream.getvalue() and logs.REDACTED in stream.getvalue()


def test_ordinary_lines_are_kept_as_they_are(captured):
    logger, stream = captured
    logger.info("operation %s (renew shop) failed: %s", "9998-abc", "KeyVaultRefused")
    assert stream.getvalue().strip() == "INFO operation 9998-abc (renew shop) failed: KeyVaultRefused"


def test_every_line_of_an_operations_work_names_it(captured):
    logger, stream = captured
    with logs.operation_context("8888888888888-0123456789ab"):
        logger.info("issuing for %s", "shop.example.com")
        logger.warning("operation 8888888888888-0123456789ab already named: not twice")
    logger.info("after the operation")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "INFO [operation 8888888888888-0123456789ab] issuing for shop.example.com"
    assert lines[1].count("8888888888888-0123456789ab") == 1
    assert lines[2] == "INFO after the operation"
