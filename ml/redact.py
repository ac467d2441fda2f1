"""Credentials out of everything the product shows, stores or logs: the one redaction.

A setting keeps its real value; every text derived from it (a run's fields, MLflow tags and
artifacts, API answers, notifications, log lines) goes through `redact` first. Two nets:

- by shape: the userinfo of any URL (`https://user:token@host`, also `https://token@host`),
  query parameters that carry a credential (`token=`, `X-Amz-Signature=`, ...) and Slack webhook
  paths, in any text, so a URL nobody declared (a future data source) is covered too;
- by value: the secret parts of the URLs the product is configured with (`protect_url`), so a
  secret that a tool echoes outside its URL (git, DVC, a driver) is found as well, raw,
  percent-encoded or JSON-escaped.

It lives in `ml` (no Django) because both apps and the settings import it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MASK = "***"
# Shorter values are too likely to be ordinary words or digits to be masked wherever they appear.
_MIN_SECRET = 4
# A user name alone in a URL is taken for an access token (masked everywhere) from this length.
_MIN_TOKEN = 16
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*"
# `://` as written, JSON-escaped (`:\/\/`) or percent-encoded (`%3A%2F%2F`).
_SEPARATORS = (r"://", r":\\/\\/", r"%3[Aa]%2[Ff]%2[Ff]")
_USERINFO = [
    re.compile(rf"(?<![A-Za-z0-9+.-])({_SCHEME}{sep})([^\s/?#@'\"<>\\]+)(@|%40)")
    for sep in (_SEPARATORS[0], _SEPARATORS[1])
]
_USERINFO_ENCODED = re.compile(
    rf"(?<![A-Za-z0-9+.-])({_SCHEME}{_SEPARATORS[2]})((?:(?!%2[Ff]|%40)[^\s/?#&'\"<>\\])+)(%40)"
)
_SECRET_PARAM_NAME = r"[\w.-]*(?:token|secret|signature|passw(?:or)?d|pwd|credential|sig|key|auth)[\w.-]*"
_QUERY_SECRET = re.compile(rf"((?:[?&;]|%3[Ff]|%26|\\u0026)(?i:{_SECRET_PARAM_NAME})(?:=|%3[Dd]))[^&#\s'\"<>\\]+")
_SLACK_HOOK = re.compile(
    r"(hooks\.slack\.com(?:/|\\/|%2[Ff])(?:services|workflows|triggers))(?:/|\\/|%2[Ff])[^\s'\"<>\\]+"
)

_lock = threading.Lock()
# The configured secrets in each of their forms, longest first: one that contains another is masked whole.
_known: tuple[str, ...] = ()


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `***`."""
    if not text:
        return text
    # Shapes first: masking a known value first could break a URL's shape (a user name that is
    # also its scheme) and leave the password after it unmatched.
    for pattern in _USERINFO:
        text = pattern.sub(rf"\1{MASK}\3", text)
    text = _USERINFO_ENCODED.sub(rf"\1{MASK}\3", text)
    text = _QUERY_SECRET.sub(rf"\1{MASK}", text)
    text = _SLACK_HOOK.sub(rf"\1/{MASK}", text)
    for secret in _known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_all(value: Any) -> Any:
    """`value` with `redact` applied to every string in it (keys and items of dicts, lists, tuples)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_all(key): redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_all(item) for item in value)
    return value


def protect_url(url: str, *, path_is_secret: bool = False) -> None:
    """Remember the secret parts of a configured URL (its user, password and credential query
    values; its path too when the path is the secret, as in a Slack webhook), so that they are
    masked wherever they turn up, even away from the URL."""
    if not url or "://" not in url:
        return
    parts = urlsplit(url)
    # A user name is masked in its URL by shape; elsewhere only when it is the credential itself
    # (https://<token>@host): alone, and as long as access tokens are. A name ("postgres", "app")
    # masked in every text would hide the words around it, schemes included.
    lone_token = parts.username if not parts.password and len(parts.username or "") >= _MIN_TOKEN else None
    found = [parts.password, lone_token]
    found += [value for name, value in parse_qsl(parts.query) if re.fullmatch(_SECRET_PARAM_NAME, name, re.I)]
    if path_is_secret and parts.path.strip("/"):
        found.append(parts.path.strip("/"))
    for secret in found:
        if secret:
            _remember(unquote(secret))


def _remember(secret: str) -> None:
    global _known
    if len(secret) < _MIN_SECRET:
        return
    forms = {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1]}
    forms |= {quote(form, safe="") for form in list(forms)}
    with _lock:
        _known = tuple(sorted(set(_known) | forms, key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, traceback and stack before any handler writes it.

    Put on handlers (a logger's filter misses records propagated from its children)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: the handler reports it; redact what is there
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_handlers(logger: logging.Logger) -> None:
    """Put the redacting filter on every handler of `logger` that lacks one."""
    for handler in logger.handlers:
        if not any(isinstance(each, RedactingFilter) for each in handler.filters):
            handler.addFilter(RedactingFilter())
