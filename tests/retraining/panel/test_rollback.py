"""Rolling back from the panel, against a real MLflow registry and two trained champions."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.mark.slow
def test_staff_see_the_served_model_and_roll_back_to_an_earlier_deployment(two_deployments, staff_user):
    weak, strong = two_deployments
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    dashboard = client.get(reverse("panel-dashboard")).content.decode()
    assert f"v{strong.version}" in dashboard
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', dashboard).group(1))
    assert [d["version"] for d in chart["deployments"]] == [weak.version, strong.version]
    assert chart["deployments"][0]["metrics"]["accuracy"] < chart["deployments"][1]["metrics"]["accuracy"]
    assert len(chart["challengers"]) == 2

    listing = client.get(reverse("panel-deployments")).content.decode()
    rollback_url = reverse("panel-rollback", args=[weak.pk])
    assert rollback_url in listing
    assert reverse("panel-rollback", args=[strong.pk]) not in listing  # the served one

    confirm = client.get(rollback_url).content.decode()
    assert f"Roll back to version {weak.version}?" in confirm
    assert Deployment.objects.count() == 2  # looking at the confirmation changes nothing
    assert client.post(rollback_url, {"reason": "too confident"}).status_code == 403  # no CSRF token
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', confirm).group(1)
    response = client.post(rollback_url, {"reason": "strong one misbehaves", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302

    rollback = Deployment.objects.order_by("-id").first()
    assert (rollback.version, rollback.source, rollback.created_by) == (weak.version, "rollback", staff_user)
    assert rollback.reason == "strong one misbehaves"
    assert rollback.previous == strong
    assert registry.champion_version() == weak.version
    holder().sync()
    assert holder().current.version == weak.version
    assert f"data-served-version>v{weak.version}<" in client.get(reverse("panel-deployments")).content.decode()

    again = client.post(rollback_url, {"csrfmiddlewaretoken": csrf}, follow=True)
    assert f"Version {weak.version} is already served." in again.content.decode()
    assert Deployment.objects.count() == 3
