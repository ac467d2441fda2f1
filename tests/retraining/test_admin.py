"""The admin as staff meet it: named, branded, records readable, and no second place to edit the schedule."""

import html
import json

import pytest
from django.contrib import admin
from django.urls import reverse

from retraining.models import RetrainingRun
from retraining.workers import schedule

pytestmark = pytest.mark.usefixtures("plain_static_files")


@pytest.fixture
def staff(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize("model", [m for m in admin.site._registry if m._meta.app_label in ("predictor", "retraining")])
def test_every_record_in_the_admin_has_a_plural_in_english(model):
    meta = model._meta
    assert meta.verbose_name_plural != f"{meta.verbose_name}s" or not meta.verbose_name.endswith("s"), (
        f"{model.__name__} is listed as {meta.verbose_name_plural!r}"
    )


def test_the_admin_index_names_serving_processes_rightly(staff):
    page = staff.get(reverse("admin:index")).content.decode()
    assert "Serving processes" in page
    assert "processs" not in page.lower()


def test_the_admin_carries_the_products_name(staff):
    page = staff.get(reverse("admin:index")).content.decode()
    assert admin.site.site_header == "Model retraining administration"
    assert "<title>Records and settings | Model retraining</title>" in page
    assert "Model retraining administration" in page
    assert "Django administration" not in page


def kept_run() -> RetrainingRun:
    return RetrainingRun.objects.create(
        trigger="manual",
        status="kept",
        active=None,
        steps=[
            {"name": "check", "status": "done", "duration": 0.12},
            {"name": "compare", "status": "done", "duration": 1.5, "detail": "on 512 rows"},
        ],
        reasons=["accuracy: challenger 0.8827 vs champion 0.8928 (-0.0101), needs strictly better"],
        challenger_metrics={"accuracy": 0.8827, "f1": 0.61},
        comparison={"interval": [-0.02, 0.004], "p_value": 0.21, "rows": 512},
    )


def test_a_run_record_reads_as_tables_and_lists_not_raw_json(staff):
    run = kept_run()
    page = html.unescape(staff.get(reverse("admin:retraining_retrainingrun_change", args=[run.pk])).content.decode())
    for raw in (json.dumps(run.steps), json.dumps(run.reasons), json.dumps(run.comparison)):
        assert raw not in page
    assert "<th>name</th><th>status</th><th>duration</th><th>detail</th>" in page
    assert "<td>compare</td><td>done</td><td>1.5</td><td>on 512 rows</td>" in page
    assert f"<li>{run.reasons[0]}</li>" in page
    assert "<th>p_value</th><td>0.21</td>" in page
    assert "<th>interval</th><td>-0.02, 0.004</td>" in page
    assert page.count('class="form-row field-steps_readable"') == 1, "the steps are shown twice"


def test_a_record_shows_markup_in_its_values_as_text(staff):
    run = kept_run()
    RetrainingRun.objects.filter(pk=run.pk).update(reasons=["<script>alert(1)</script>"])
    page = staff.get(reverse("admin:retraining_retrainingrun_change", args=[run.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("page_name", ["changelist", "add"])
def test_the_periodic_task_admin_warns_the_schedule_page_owns_the_schedule(staff, page_name):
    page = staff.get(reverse(f"admin:django_celery_beat_periodictask_{page_name}")).content.decode()
    assert 'class="warning"' in page
    assert "The control panel's Schedule page owns the retraining schedule" in page
    assert f'href="{reverse("panel-schedule")}"' in page


def test_the_periodic_task_admin_warns_on_the_tasks_own_page(staff):
    task = schedule.ensure_default_schedule()
    page = staff.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])).content.decode()
    assert "The control panel's Schedule page owns the retraining schedule" in page
