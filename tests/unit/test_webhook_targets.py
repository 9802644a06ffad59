"""WEBHOOK_URL: formats, the https rule (http only on loopback), and a URL shown without its path."""
from __future__ import annotations

import pytest

from shared.notify.targets import WebhookFormat, parse_targets, redact
from shared.settings import Settings, SettingsError
from tests.fakes.context import APP_SETTINGS

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


def test_entries_with_and_without_a_format():
    targets = parse_targets(f"slack+{SLACK}, https://example.com/hook  cloudevents+http://127.0.0.1:8080/x")
    assert [t.format for t in targets] == [WebhookFormat.SLACK, WebhookFormat.JSON, WebhookFormat.CLOUDEVENTS]
    assert [t.shown for t in targets] == ["https://hooks.slack.com", "https://example.com", "http://127.0.0.1:8080"]
    assert "secret" not in repr(targets)
    assert len({t.key for t in targets}) == 3


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("http://example.com/s3cr3tpath", "must be https"),
        ("ftp://example.com/s3cr3tpath", "must be https"),
        ("pager+https://example.com/s3cr3tpath", "unknown webhook format"),
        ("https://user:pw@example.com/s3cr3tpath", "no user or password"),
        ("https:///s3cr3tpath", "must have a host"),
        ("https://example.com/s3cr3tpath/ho\u00f6k", "percent-encode"),  # http.client could never send it
    ],
)
def test_bad_entries_are_refused_at_start_without_their_path(raw, reason):
    with pytest.raises(SettingsError, match=reason) as err:
        Settings.from_env({**APP_SETTINGS, "WEBHOOK_URL": raw})
    assert "s3cr3tpath" not in str(err.value) and ":pw@" not in str(err.value)


def test_a_slack_url_is_refused_without_showing_its_secret():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**APP_SETTINGS, "WEBHOOK_URL": SLACK.replace("https", "http")})
    assert "XXXXsecretXXXX" not in str(err.value) and "http://hooks.slack.com" in str(err.value)


def test_redact_keeps_scheme_and_host_only():
    assert redact(f"{SLACK}?token=abc") == "https://hooks.slack.com"
    assert Settings.from_env(APP_SETTINGS).webhooks == ()
