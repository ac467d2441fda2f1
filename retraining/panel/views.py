"""Panel views: thin, they read through selectors and write through the apps' services."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ml.gate import words
from predictor import services as predictor_services
from predictor.models import Deployment
from predictor.serving.registry import RegistryError
from retraining import services
from retraining.models import PromotionPolicy, RetrainingRun, TriggerSettings
from retraining.panel import compare, figures, selectors, versions
from retraining.panel import live as live_state
from retraining.panel.forms import PolicyForm, ScheduleForm, TriggerSettingsForm
from retraining.runs import runlog, wording
from retraining.runs import store as run_store
from retraining.runs.listing import FilterError, RunFilter
from retraining.workers import heartbeat, schedule

View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Anonymous people go to the login page; signed-in people without staff status get a 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("the control panel is for staff")
        return view(request, *args, **kwargs)

    return wrapped


def _page(
    request: HttpRequest,
    template: str,
    section: str,
    served: selectors.Served | None = None,
    health: heartbeat.WorkerLiveness | None = None,
    **context: Any,
) -> HttpResponse:
    """Every page's header shows what is served and which workers are alive, as the dashboard's poll does."""
    served = served or selectors.served()
    context.update(section=section, served=served)
    if "state" not in context:
        header = live_state.workers_state(health or heartbeat.liveness(), run_store.active_run())
        context["state"] = {"served": live_state.served_state(served), "workers": header}
    return render(request, f"panel/{template}", context)


@staff_only
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Rendered from the same state its poll (`live`) returns, so the first paint and every redraw agree."""
    served = selectors.served()
    state = live_state.dashboard_state(served)
    return _page(
        request,
        "dashboard.html",
        "dashboard",
        served=served,
        state=state,
        live=state["run"],
        chart=selectors.chart_series(),
        policy=run_store.current_policy(),
        schedule=schedule.schedule_state(),
    )


@staff_only
@require_POST
def retrain_now(request: HttpRequest) -> HttpResponse:
    """Start a run; "force" runs it even on data already judged, with the reason given."""
    force, reason = request.POST.get("force") == "on", request.POST.get("reason", "").strip()[:500]
    again = request.POST.get("again", "")
    if force and again.isdigit():  # from a run's page: the audit says which run it follows
        reason = f"again after run #{again}" + (f": {reason}" if reason else "")
    forced = services.forced_by(request.user.get_username(), reason[:500]) if force else None
    run, created = services.trigger_run(RetrainingRun.Trigger.MANUAL, request.user, forced=forced)
    link = format_html('<a href="{}">run #{}</a>', reverse("panel-run", args=[run.pk]), run.pk)
    if created and services.unsent(run):
        messages.error(request, format_html("Could not start {}: {}", link, run.error))
    elif created:
        # Tagged so the dashboard's poll can take it away once that run has ended.
        started = format_html("Started {}: its steps appear below as they finish.", link)
        messages.success(request, started, extra_tags="run-started")
    else:
        messages.warning(request, format_html("A run is already in progress: {} ({}).", link, run.status))
    return redirect("panel-dashboard")


@staff_only
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """What the dashboard polls: the state of every part of the page (see retraining.panel.live)."""
    return JsonResponse(live_state.dashboard_state())


@staff_only
@require_GET
def chart(request: HttpRequest) -> JsonResponse:
    """The chart's data, fetched again by the dashboard when the live state's chart stamp changes."""
    return JsonResponse(selectors.chart_series())


@staff_only
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs, newest first: by outcome, trigger, a date range (days in the app's time zone) and text."""
    errors: dict[str, str] = {}
    try:
        wanted = RunFilter.parse(request.GET, blank_is_unset=True)
    except FilterError as exc:
        errors, wanted = exc.errors, RunFilter()
    page = Paginator(selectors.runs(wanted), 20).get_page(request.GET.get("page"))
    health = heartbeat.liveness()
    return _page(
        request,
        "runs.html",
        "runs",
        health=health,
        page=page,
        rows=[live_state.run_row(run, health) for run in page],
        wanted=wanted,
        asked=request.GET,
        errors=errors,
        query=wanted.query_string(),
        statuses=RetrainingRun.Status.choices,
        triggers=RetrainingRun.Trigger.choices,
    )


@staff_only
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(RetrainingRun.objects.select_related("triggered_by", "deployment"), pk=pk)
    health = heartbeat.liveness()
    return _page(
        request,
        "run_detail.html",
        "runs",
        health=health,
        run=run,
        live=live_state.run_card(run, health),
        metrics=selectors.metric_rows(run),
        links=selectors.mlflow_links(run),
        holdout=wording.holdout_sentences(run),
        positive=wording.positive_sentence(run),
        paired=wording.comparison(run),
        started_by=figures.run_evidence(run),
        validation_drift=figures.drift_rows(run.validation.get("drift") or {}),
        reading=figures.data_reading(run),
        decision=words.decision(run.decision_rule, run.status, run.comparison),
        policy_facts=words.policy_facts(run.policy),
        took=live_state.seconds(run.duration) if run.duration is not None else "",
    )


@staff_only
@require_GET
def run_log(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole kept log of one run: what its worker logged for it, redacted, the tail when cut."""
    run = get_object_or_404(RetrainingRun.objects.only("id", "status", "trigger", "created_at"), pk=pk)
    return _page(request, "run_log.html", "runs", run=run, log=runlog.run_log(run))


@staff_only
@require_POST
def cancel_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued run at once, or ask a running one to stop at its next safe point."""
    get_object_or_404(RetrainingRun, pk=pk)
    try:
        run = run_store.cancel(pk, request.user.get_username())
    except run_store.NotCancellable as exc:
        messages.warning(request, str(exc))
    else:
        if run.finished:
            messages.success(request, f"Run #{run.pk} cancelled.")
        else:
            stop = "it stops at its next step, or at once inside an interruptible one"
            messages.success(request, f"Run #{run.pk} is asked to stop: {stop}.")
    return redirect("panel-run", pk=pk)


@staff_only
@require_GET
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """What a run's own page polls: its card as the dashboard shows it, stalled reason included."""
    return JsonResponse(live_state.run_card(get_object_or_404(RetrainingRun, pk=pk), heartbeat.liveness()))


@staff_only
@require_GET
def deployment_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Deployment.objects.select_related("created_by", "previous"), 25).get_page(request.GET.get("page"))
    rows = selectors.deployment_rows(list(page.object_list))
    return _page(request, "deployments.html", "deployments", page=page, rows=rows)


@staff_only
@require_GET
def compare_runs(request: HttpRequest) -> HttpResponse:
    """Two runs side by side (?a=&b=, each a run number or a model version: v3); given one, the run
    whose model it was judged against, else the run before it that made a model."""
    asked = {name: compare.run_number(request.GET.get(name, "")) for name in ("a", "b")}
    if asked["a"].isdigit() and not asked["b"]:
        asked["b"] = str(compare.counterpart(int(asked["a"])) or "")
    problems = [compare.not_a_run(name, value) for name, value in asked.items() if value and not value.isdigit()]
    found = {
        run.pk: run for run in RetrainingRun.objects.filter(pk__in=[int(v) for v in asked.values() if v.isdigit()])
    }
    problems += [f"there is no run #{value}" for value in asked.values() if value.isdigit() and int(value) not in found]
    context: dict[str, Any] = {"asked": asked, "problems": problems}
    if not problems and len(found) == 2:
        context.update(compare.compare(*found.values()))
    elif not problems and asked["a"] and asked["b"]:
        context["problems"] = ["a run compared with itself shows nothing new: choose two runs"]
    return _page(request, "compare.html", "runs", **context)


@staff_only
@require_GET
def data_version_list(request: HttpRequest) -> HttpResponse:
    """Every dataset version the pipeline saw, the runs that read it and the models made from it,
    newest first, a page at a time (a long history has hundreds of versions)."""
    page = Paginator(versions.data_versions(), 25).get_page(request.GET.get("page"))
    return _page(request, "data_versions.html", "data", versions=page.object_list, page=page)


@staff_only
@require_http_methods(["GET", "POST"])
def rollback(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page, then the rollback: recorded as a deployment by this person, hot-swapped."""
    target = get_object_or_404(Deployment, pk=pk)
    served = selectors.served()
    if served.deployment is not None and served.deployment.version == target.version:
        messages.info(request, f"Version {target.version} is already served.")
        return redirect("panel-deployments")
    if request.method == "POST":
        reason = request.POST.get("reason", "").strip()[:500]
        try:
            done = predictor_services.rollback_to(target, user=request.user, reason=reason)
        except RegistryError as exc:
            messages.error(request, f"The rollback did not happen: {exc}")
            return redirect("panel-deployments")
        messages.success(
            request, f"Rolled back: version {done.version} is now the champion; serving processes switch in seconds."
        )
        return redirect("panel-deployments")
    return _page(request, "rollback_confirm.html", "deployments", target=target)


@staff_only
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    current = run_store.current_policy()
    form = PolicyForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        saved = form.save_as_new(request.user)
        messages.success(request, f"Policy #{saved.pk} saved: it applies from the next run.")
        return redirect("panel-policy")
    history = PromotionPolicy.objects.select_related("created_by")[:20]
    return _page(request, "policy.html", "policy", form=form, current=current, history=history)


@staff_only
@require_GET
def monitoring_page(request: HttpRequest) -> HttpResponse:
    """Drift over time, the newest check, live quality against holdout, volume and class mix."""
    served = selectors.served()
    return _page(
        request,
        "monitoring.html",
        "monitoring",
        served=served,
        badges=live_state.monitoring_state(served.deployment, timezone.now()),
        **figures.page(served.deployment),
    )


@staff_only
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest) -> HttpResponse:
    state = schedule.schedule_state()
    initial = {"enabled": state.enabled, "preset": state.preset, "cron": state.expression}
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        schedule.update_schedule(form.cleaned_data["expression"], form.cleaned_data["enabled"])
        messages.success(request, "Schedule saved: beat follows it from now on, no restart needed.")
        return redirect("panel-schedule")
    return _schedule_page(request, form, TriggerSettingsForm(instance=TriggerSettings.current()))


@staff_only
@require_POST
def triggers_edit(request: HttpRequest) -> HttpResponse:
    """The monitoring triggers, saved from the schedule page; errors are shown there, by their fields."""
    form = TriggerSettingsForm(request.POST, instance=TriggerSettings.current())
    if form.is_valid():
        form.save_by(request.user)
        messages.success(request, "Triggers saved: the next look at live serving (within a minute) follows them.")
        return redirect("panel-schedule")
    state = schedule.schedule_state()
    initial = {"enabled": state.enabled, "preset": state.preset, "cron": state.expression}
    return _schedule_page(request, ScheduleForm(initial=initial), form)


def _schedule_page(request: HttpRequest, form: ScheduleForm, triggers_form: TriggerSettingsForm) -> HttpResponse:
    # `schedule`, not `state`: every page's `state` is its header's live state.
    return _page(
        request,
        "schedule.html",
        "schedule",
        form=form,
        schedule=schedule.schedule_state(),
        presets=schedule.PRESETS,
        triggers_form=triggers_form,
        triggers=selectors.trigger_state(TriggerSettings.current(), timezone.now()),
        monitor_interval=settings.MONITOR_INTERVAL,
        primary_metric=run_store.current_policy().primary_metric,
    )
