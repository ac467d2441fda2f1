"""The run page shows the new data's drift against the champion's training profile."""

import re

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from ml.drift.drift import measure
from ml.drift.profile import build_profile
from ml.validate import validate
from retraining.models import RetrainingRun


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def inputs(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "body_mass_g": rng.normal(4200 + shift, 800, rows),
            "island": rng.choice(["Biscoe", "Dream"], rows),
            "species": rng.choice(["Adelie", "Gentoo"], rows),
        }
    )


def test_a_runs_page_lists_each_features_drift_score_and_the_verdict(client, staff_user):
    profile = build_profile(inputs(300, seed=1).drop(columns=["species"]), None)
    new_data = inputs(300, seed=2, shift=1500)
    checked = validate(
        new_data,
        "species",
        min_rows=10,
        max_missing_share=0.5,
        max_classes=50,
        holdout_fraction=0.25,
        id_column=None,
        reference=profile,
    )
    run = RetrainingRun.objects.create(trigger="cli", status="kept", active=None, validation=checked.as_dict())
    client.force_login(staff_user)

    page = client.get(reverse("panel-run", args=[run.pk])).content.decode()

    section = page[page.index("data-drift") :]
    assert "drift" in re.search(r"data-drift-verdict[^>]*>([^<]*)<", section).group(1)
    mass = re.search(r"<tr data-feature=\"body_mass_g\"[^>]*>(.*?)</tr>", section, re.S).group(1)
    psi = checked.drift["features"]["body_mass_g"]["psi"]
    assert f"{psi:.3f}" in mass
    assert "&lt; 0.0001" in mass
    assert "drifted" in mass
    island = re.search(r"<tr data-feature=\"island\"[^>]*>(.*?)</tr>", section, re.S).group(1)
    assert "drifted" not in island


def test_a_run_without_a_drift_record_shows_no_drift_section(client, staff_user):
    run = RetrainingRun.objects.create(trigger="cli", status="kept", active=None, validation={"problems": []})
    client.force_login(staff_user)

    page = client.get(reverse("panel-run", args=[run.pk])).content.decode()

    assert "data-drift" not in page


def test_not_enough_rows_is_shown_as_such(client, staff_user):
    profile = build_profile(inputs(300, seed=1).drop(columns=["species"]), None)
    report = measure(inputs(30, seed=2), profile)
    run = RetrainingRun.objects.create(
        trigger="cli", status="kept", active=None, validation={"drift": report.as_dict()}
    )
    client.force_login(staff_user)

    page = client.get(reverse("panel-run", args=[run.pk])).content.decode()

    assert "not enough data" in page
