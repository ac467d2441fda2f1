"""The app's API over HTTP, as a client sees it: where it is, what it serves, why it did not answer."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings

from demo.traffic.base import KeyRequired, ServedModel, TrafficError

REQUEST_TIMEOUT = 10.0


class Api:
    """The app's API over HTTP: the prediction, feedback and model endpoints."""

    def __init__(self, url: str, key: str | None = None, timeout: float = REQUEST_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.session = requests.Session()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", headers=self._headers(), timeout=self.timeout)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(
            f"{self.url}{path}", data=orjson.dumps(body), headers=self._headers(), timeout=self.timeout
        )

    def close(self) -> None:
        self.session.close()


def default_url() -> str:
    return f"http://127.0.0.1:{settings.PORT}"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TrafficError(f"--url must be the app's address, like http://127.0.0.1:8000; got {url!r}")
    return url.rstrip("/")


def body_of(response: requests.Response, limit: int = 2000) -> str:
    text = response.text.strip()
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _unreachable(url: str, exc: requests.RequestException) -> TrafficError:
    return TrafficError(
        f"nothing answers at {url}: start it with make run, or give its address with --url ({why_unanswered(exc)})"
    )


def why_unanswered(exc: requests.RequestException) -> str:
    """Why a request got no answer, in a few words ("Connection refused"), not urllib3's whole chain."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {REQUEST_TIMEOUT:g} s"
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return found.group(1).strip() if found else type(exc).__name__


def served_model(api: Api) -> ServedModel:
    """The served model's name, version, input columns and classes; the reason when there is none."""
    try:
        response = api.get("/api/v1/model")
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _unreachable(api.url, exc) from None
    if response.status_code == 503:
        raise TrafficError(
            f"no model is served at {api.url} yet ({body_of(response)}): make run trains and deploys the first "
            "champion at its first start (or run manage.py bootstrap); try again once the panel shows one"
        )
    if response.status_code == 401:
        raise KeyRequired(f"GET {api.url}/api/v1/model answered HTTP 401: {body_of(response)}")
    if response.status_code != 200:
        raise TrafficError(f"GET {api.url}/api/v1/model answered HTTP {response.status_code}: {body_of(response)}")
    try:
        return ServedModel.from_answer(response.json())
    except (ValueError, KeyError, TypeError) as exc:
        raise TrafficError(f"{api.url}/api/v1/model did not answer as this app does ({exc}): is --url right?") from None
