"""The one redaction: credentials in URLs, by shape and by configured value, in any encoding."""

import json
import logging
from urllib.parse import quote

import pytest

from ml import redact as redact_module
from ml.redact import RedactingFilter, protect_url, redact, redact_all


@pytest.fixture(autouse=True)
def no_known_secrets(monkeypatch):
    monkeypatch.setattr(redact_module, "_known", ())


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:s3cr3t@host/repo.git", "https://***@host/repo.git"),
        ("https://ghp_t0ken@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
        ("postgres://app:pw%40x@db:5432/app", "postgres://***@db:5432/app"),
        ("redis://:hunter22@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        (
            "fatal: unable to access 'https://u:tok@127.0.0.1:9/r.git/': Failed to connect",
            "fatal: unable to access 'https://***@127.0.0.1:9/r.git/': Failed to connect",
        ),
        (
            "s3://bucket/x?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abcdef0123&X-Amz-Expires=60",
            "s3://bucket/x?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60",
        ),
        ("https://mlflow.example.com/?token=abc123&x=1", "https://mlflow.example.com/?token=***&x=1"),
        ("https://hooks.slack.com/services/T0/B0/XyZ123", "https://hooks.slack.com/services/***"),
        ("https:\\/\\/user:s3cr3t@host\\/repo.git", "https:\\/\\/***@host\\/repo.git"),
        ("https%3A%2F%2Fuser%3As3cr3t%40host%2Frepo.git", "https%3A%2F%2F***%40host%2Frepo.git"),
        ("/var/data/registry and git@github.com:org/repo.git", "/var/data/registry and git@github.com:org/repo.git"),
        (
            "mail team@example.com about https://example.com/a?b=c",
            "mail team@example.com about https://example.com/a?b=c",
        ),
    ],
)
def test_credentials_in_any_url_are_masked_and_nothing_else(text, shown):
    assert redact(text) == shown


def test_a_configured_secret_is_masked_away_from_its_url_in_every_encoding():
    protect_url("https://user:p%40ss%2Fw0rd@host/repo.git")
    protect_url("https://hooks.example.com/services/T0/B0/HOOKPATH1", path_is_secret=True)
    secret = "p@ss/w0rd"

    for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1]):
        assert secret not in redact(f"Authentication failed ({form})")
        assert "***" in redact(f"Authentication failed ({form})")
    assert redact("posting to https://hooks.example.com/services/T0/B0/HOOKPATH1 failed") == (
        "posting to https://hooks.example.com/*** failed"
    )


def test_short_values_are_not_remembered_as_secrets():
    protect_url("redis://:ab@127.0.0.1:6379/0")

    assert redact("ab abc") == "ab abc"


def test_every_string_in_a_nested_value_is_redacted():
    value = {"source": "https://u:tok@h/r.git", "attempts": [{"error": "at https://tok@h"}], "n": 3}

    assert redact_all(value) == {"source": "https://***@h/r.git", "attempts": [{"error": "at https://***@h"}], "n": 3}


def test_the_log_filter_redacts_the_message_and_the_traceback(caplog):
    logger = logging.getLogger("tests.redact")
    caplog.handler.addFilter(RedactingFilter())
    try:
        raise OSError("could not reach https://user:tok3n@host/repo.git")
    except OSError:
        logger.exception("fetch of %s failed", "https://user:tok3n@host/repo.git")

    text = caplog.text
    assert "tok3n" not in text
    assert "fetch of https://***@host/repo.git failed" in text
    assert "OSError: could not reach https://***@host/repo.git" in text


def test_a_configured_user_name_that_is_also_the_scheme_leaves_other_urls_masked():
    """A database URL `postgres://postgres@host` is configured; a text quoting another URL with a
    password must still lose that password."""
    protect_url("postgres://postgres@127.0.0.1:5432/test")

    text = redact("could not read postgres://team:hunter2-secret@db.example.com/warehouse")

    assert "hunter2-secret" not in text
    assert "db.example.com/warehouse" in text


def test_a_user_name_beside_a_password_is_not_masked_everywhere():
    protect_url("postgres://analyst:long-password-1@db:5432/app")

    assert redact("table owned by analyst") == "table owned by analyst"
    assert redact("auth failed: long-password-1") == "auth failed: ***"


def test_a_token_given_as_the_user_name_is_masked_wherever_it_appears():
    protect_url("https://ghp_0123456789abcdefghij@github.com/org/data.git")

    assert redact("remote said: bad credentials ghp_0123456789abcdefghij") == "remote said: bad credentials ***"
    assert redact("connecting to postgres as postgres") == "connecting to postgres as postgres"
