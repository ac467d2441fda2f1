"""The Content-Security-Policy every page is sent with, and pages that keep within it: scripts
only from this origin or carrying the response's nonce, no inline event handlers or style
attributes, nothing from another origin."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from predictor.models import Deployment
from tests.support import evidence

STATIC_BACKEND = "django.contrib.staticfiles.storage.StaticFilesStorage"
# Sources a directive may list: keywords, this origin, data: images, and the response's nonce.
ALLOWED_SOURCES = {"'self'", "'none'", "data:"}
ANONYMOUS_PAGES = ["/panel/login/", "/admin/login/", "/api/docs/"]
PANEL_PAGES = [
    "/panel/",
    "/panel/runs/",
    "/panel/runs/{run}/",
    "/panel/deployments/",
    "/panel/deployments/{older}/rollback/",
    "/panel/monitoring/",
    "/panel/policy/",
    "/panel/schedule/",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/retraining/retrainingrun/",
    "/admin/retraining/retrainingrun/{run}/change/",
    "/admin/predictor/deployment/",
]
# The runs API as a browser asks for it: Django REST framework's browsable page.
API_PAGES = ["/api/v1/runs", "/api/v1/runs/{run}"]


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    """Pages link their CSS through the manifest storage, which only `collectstatic` fills."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_BACKEND}}


@pytest.fixture
def records(db) -> dict[str, int]:
    run = evidence.kept_run()
    older = Deployment.objects.create(model_name="m", version="1", source="bootstrap", metrics={"accuracy": 0.8})
    Deployment.objects.create(model_name="m", version="2", source="pipeline", metrics={"accuracy": 0.9})
    return {"run": run.pk, "older": older.pk}


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


class Elements(HTMLParser):
    """Every tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def breaches(page: str, nonce: str | None) -> list[str]:
    """What in the page the policy would block: inline code without the nonce, handlers, styles."""
    parser = Elements()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        handlers = [name for name in attrs if name.startswith("on")]
        if handlers:
            found.append(f"<{tag}> has inline handlers {handlers}")
        if "style" in attrs:
            found.append(f"<{tag}> has a style attribute {attrs['style']!r}")
        source = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
        if source and re.match(r"^(https?:)?//", source):
            found.append(f"<{tag}> loads {source} from another origin")
        nonced = nonce is not None and attrs.get("nonce") == nonce
        inline_script = tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json"
        if inline_script and not nonced:
            found.append(f"inline <script> without the response's nonce: {attrs}")
        if tag == "style" and not nonced:
            found.append(f"<style> without the response's nonce: {attrs}")
    return found


def assert_strict(response) -> None:
    assert response.status_code == 200, (response.request["PATH_INFO"], response.status_code)
    directives = policy(response)
    scripts = directives.get("script-src", directives.get("default-src", []))
    assert "'self'" in scripts, directives
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"} & set(scripts), scripts
    assert directives.get("object-src") == ["'none'"], directives
    assert directives.get("base-uri") == ["'none'"], directives
    for name, sources in directives.items():
        others = [s for s in sources if s not in ALLOWED_SOURCES and not s.startswith("'nonce-")]
        assert not others, f"{name} allows {others}"
    nonces = {s.removeprefix("'nonce-").removesuffix("'") for s in scripts if s.startswith("'nonce-")}
    assert len(nonces) <= 1, nonces
    page = response.content.decode()
    problems = breaches(page, next(iter(nonces), None))
    assert not problems, (response.request["PATH_INFO"], problems)


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_pages_anyone_can_open_are_sent_a_strict_policy(client, db, path):
    assert_strict(client.get(path))


@pytest.mark.parametrize("path", PANEL_PAGES + ADMIN_PAGES + API_PAGES)
def test_every_panel_admin_and_api_page_is_sent_a_strict_policy(superuser_client, records, path):
    assert_strict(superuser_client.get(path.format(**records), HTTP_ACCEPT="text/html"))


def test_each_response_has_a_nonce_of_its_own(client, db):
    first, second = (policy(client.get("/api/docs/"))["script-src"] for _ in range(2))
    assert [s for s in first if s.startswith("'nonce-")], first
    assert first != second


def test_the_swagger_ui_starts_from_a_script_with_the_nonce(client, db):
    response = client.get("/api/docs/")
    nonce = next(s for s in policy(response)["script-src"] if s.startswith("'nonce-"))[len("'nonce-") : -1]
    assert f'<script nonce="{nonce}">' in response.content.decode()
