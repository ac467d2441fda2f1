"""Strict readers for settings that come from the environment.

A malformed value stops start-up with one message that names the variable, so a typo in a
deployment is found when the process starts, not hours later in the middle of a run.
"""

import json
import os
import re
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from ml.redact import redact

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true/false, 1/0, yes/no or on/off")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if number != number or (minimum is not None and number < minimum):
        raise ImproperlyConfigured(f"{name}={value!r} must be a number of at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or networks (CIDR), each checked to be one."""
    import ipaddress

    networks = env_list(name, default)
    for item in networks:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8 or 192.0.2.1)"
            ) from None
    return networks


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)


def env_dotted_list(name: str, example: str) -> list[str]:
    """Comma-separated dotted Python names (modules, types), each checked to be one."""
    names = env_list(name, [])
    for item in names:
        if not _DOTTED.fullmatch(item):
            raise ImproperlyConfigured(f"{name}: {item!r} is not a dotted Python name (e.g. {example})")
    return names


def env_json_object(name: str, default: dict[str, Any]) -> dict[str, Any]:
    value = _raw(name)
    if value is None or value == "":
        return dict(default)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def env_url(name: str, default: str, schemes: set[str]) -> str:
    value = env_str(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        allowed = ", ".join(sorted(f"{s}://" for s in schemes))
        raise ImproperlyConfigured(f"{name}={redact(value)!r} must be a URL starting with one of: {allowed}")
    if parsed.scheme not in {"sqlite", "file", "filesystem"} and not parsed.hostname:
        raise ImproperlyConfigured(f"{name}={redact(value)!r} has no host name")
    return value


def app_version(base_dir: Any) -> str:
    """The code that runs: APP_VERSION, else Heroku's SOURCE_VERSION, else the checkout's git commit,
    else the package version from pyproject.toml. Read once at start-up and recorded with each model."""
    import subprocess
    import tomllib

    given = env_str("APP_VERSION") or env_str("SOURCE_VERSION")
    if given:
        return given
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=base_dir, capture_output=True, text=True, timeout=5, check=True
        )
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open(f"{base_dir}/pyproject.toml", "rb") as handle:
            return f"package {tomllib.load(handle)['project']['version']}"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
