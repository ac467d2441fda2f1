"""REST for scripts and CI: start a run, list runs, read one run with everything it recorded.

Who may call it: a staff session, or a request carrying `Authorization: Bearer <RETRAIN_API_TOKEN>`.
No credentials (or a wrong token) is 401; a signed-in user who is not staff is 403. Starting a
run while one is in progress is 409 Conflict, with the run in progress in the body: the caller
learns which run to follow instead of believing its own trigger was queued. A broker that refuses
the run's message is 503, with the run (closed as failed, naming the broker) in the body.
`{"force": true}` runs even on data already judged, audited on the run; POST .../cancel cancels;
GET .../log reads what the run's worker logged for it.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ml.gate import words
from predictor.api.access import RetrainTokenAuthentication, StaffOrToken
from retraining import services
from retraining.models import RetrainingRun
from retraining.notify import channels
from retraining.runs import runlog, store, wording
from retraining.runs.listing import FilterError, RunFilter
from retraining.workers import heartbeat


class TeamPipelineSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="TRAINING_PIPELINE, package.module:callable")
    version = serializers.CharField(
        help_text="the team code's package version, else its module file's sha256; \"unknown\" until the run trained"
    )


class RunSerializer(serializers.ModelSerializer):
    triggered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="who started it; null for a token or beat"
    )
    deployed_version = serializers.CharField(source="deployment.version", default=None, read_only=True, allow_null=True)
    duration = serializers.FloatField(read_only=True, allow_null=True, help_text="seconds; null until it finished")
    url = serializers.SerializerMethodField()
    stalled = serializers.SerializerMethodField(
        help_text="queued for longer than RUN_STALL_ALERT_AFTER with no live worker on its queue"
    )
    stalled_reason = serializers.SerializerMethodField(help_text="why the run is stalled; empty when it is not")
    pipeline = TeamPipelineSerializer(
        read_only=True,
        allow_null=True,
        help_text="the team's pipeline it trains with (TRAINING_PIPELINE); null for the built-in estimator",
    )
    decision = serializers.SerializerMethodField(
        help_text="the rule that decided (decision_rule), in plain words; empty for a run no rule decided"
    )
    holdout = serializers.SerializerMethodField(
        help_text="in plain words: rows excluded because a compared model trained on them, the interval next to "
        "the p-value, and the smallest gain this holdout could detect"
    )

    class Meta:
        model = RetrainingRun
        exclude = ["active", "tick", "deployment", "stall_notified_at"]

    def get_url(self, run: RetrainingRun) -> str:
        return channels.run_link(run)

    def get_decision(self, run: RetrainingRun) -> str:
        return words.decision(run.decision_rule, run.status, run.comparison)

    def get_holdout(self, run: RetrainingRun) -> list[str]:
        return wording.holdout_sentences(run)

    def get_stalled(self, run: RetrainingRun) -> bool:
        return bool(self.get_stalled_reason(run))

    def get_stalled_reason(self, run: RetrainingRun) -> str:
        if run.status != RetrainingRun.Status.QUEUED:
            return ""
        # One read of the worker table per response, however many runs it lists.
        if "workers" not in self.context:
            self.context["workers"] = heartbeat.liveness()
        return heartbeat.stalled_reason(run, self.context["workers"])


class RunSummarySerializer(RunSerializer):
    class Meta:
        model = RetrainingRun
        fields = [
            "id",
            "trigger",
            "triggered_by",
            "status",
            "step",
            "model_version",
            "champion_version",
            "deployed_version",
            "decision_rule",
            "decision",
            "error",
            "waiting",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
            "url",
            "stalled",
            "stalled_reason",
        ]


class RunPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


class RunPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RunSummarySerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class FilterErrorSerializer(serializers.Serializer):
    status = serializers.CharField(required=False)
    trigger = serializers.CharField(required=False)


# Every runs endpoint answers these to a caller without the right credentials.
_REFUSED = {401: DetailSerializer, 403: DetailSerializer}


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    run = RunSerializer()


class StrictBooleanField(serializers.BooleanField):
    """true or false, and nothing a form would send for them ("0", 1, "yes"): a JSON body's boolean."""

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string, never a number turned into one."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StartSerializer(serializers.Serializer):
    force = StrictBooleanField(
        default=False,
        help_text="train and judge even when the data is what the champion or an earlier run already judged; "
        "recorded on the run with who, when and the reason",
    )
    reason = StrictCharField(
        default="", allow_blank=True, max_length=500, help_text="why the run is forced (only with force)"
    )

    def validate(self, data: dict) -> dict:
        if data["reason"] and not data["force"]:
            raise ValidationError({"reason": "a reason says why a run is forced: send it with force true"})
        return data


class StartErrorSerializer(serializers.Serializer):
    force = serializers.ListField(child=serializers.CharField(), required=False)
    reason = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


def _who(request: Request) -> str:
    return request.user.get_username() if request.user.is_authenticated else "the API token"


class _RunsView(APIView):
    authentication_classes = [RetrainTokenAuthentication, SessionAuthentication]
    permission_classes = [StaffOrToken]


class RunList(_RunsView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=RetrainingRun.Status.values),
            OpenApiParameter("trigger", str, enum=RetrainingRun.Trigger.values),
            OpenApiParameter("since", OpenApiTypes.DATE, description="created on or after this day (app time zone)"),
            OpenApiParameter("until", OpenApiTypes.DATE, description="created on or before this day (app time zone)"),
            OpenApiParameter("q", str, description="text in the reasons, error, model or data version, or #id"),
        ],
        responses={200: RunPageSerializer, 400: FilterErrorSerializer, **_REFUSED},
        operation_id="v1_runs_list",
    )
    def get(self, request: Request) -> Response:
        """Runs, newest first, optionally only those with a status, a trigger, in a date range, or with a text."""
        paginator = RunPagination()
        page = paginator.paginate_queryset(_filtered(request), request, view=self)
        return paginator.get_paginated_response(RunSummarySerializer(page, many=True).data)

    @extend_schema(
        request={"application/json": StartSerializer},
        responses={
            201: RunSerializer,
            400: StartErrorSerializer,
            415: DetailSerializer,
            409: ConflictSerializer,
            503: ConflictSerializer,
            **_REFUSED,
        },
    )
    def post(self, request: Request) -> Response:
        """Queue a run for the worker (201), or name the run in progress (409). 503 when the broker
        refused the run's message: the run is closed as failed, naming the broker, and blocks nothing."""
        if request.data and request.content_type.split(";")[0].strip() != "application/json":
            raise UnsupportedMediaType(request.content_type, detail="send a run's options as a JSON body")
        asked = StartSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        force = asked.validated_data["force"]
        forced = services.forced_by(_who(request), asked.validated_data["reason"]) if force else None
        user = request.user if request.user.is_authenticated else None
        run, created = services.trigger_run(RetrainingRun.Trigger.API, user, forced=forced)
        body = RunSerializer(run).data
        if not created:
            detail = f"run #{run.pk} is already {run.status} (started by {run.trigger}); follow it instead"
            return Response({"detail": detail, "run": body}, status=status.HTTP_409_CONFLICT)
        if services.unsent(run):
            return Response({"detail": run.error, "run": body}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": reverse("api-run", args=[run.pk])})


class RunDetail(_RunsView):
    @extend_schema(responses={200: RunSerializer, 404: DetailSerializer, **_REFUSED})
    def get(self, request: Request, pk: int) -> Response:
        """One run with everything it recorded: data version, steps, metrics, decision, notifications."""
        return Response(RunSerializer(get_object_or_404(RetrainingRun, pk=pk)).data)


class RunLogSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    status = serializers.CharField()
    text = serializers.CharField(help_text="the worker's log lines for this run, redacted; the tail when cut")
    dropped_bytes = serializers.IntegerField(help_text="bytes cut from the head to keep the tail under the cap")
    updated_at = serializers.DateTimeField(allow_null=True, help_text="when the worker last saved it")


class RunLogView(_RunsView):
    @extend_schema(responses={200: RunLogSerializer, 404: DetailSerializer, **_REFUSED}, operation_id="v1_runs_log")
    def get(self, request: Request, pk: int) -> Response:
        """A run's log: what its worker logged while working on it, saved on each heartbeat and at the
        end, so it is readable while the run works and after it failed. Empty until a worker claims it."""
        run = get_object_or_404(RetrainingRun.objects.only("id", "status"), pk=pk)
        log = runlog.run_log(run)
        return Response(
            {
                "run": run.pk,
                "status": run.status,
                "text": log.text,
                "dropped_bytes": log.dropped_bytes,
                "updated_at": log.updated_at,
            }
        )


class RunCancel(_RunsView):
    @extend_schema(
        request=None,
        responses={200: RunSerializer, 202: RunSerializer, 404: DetailSerializer, 409: ConflictSerializer, **_REFUSED},
        operation_id="v1_runs_cancel",
    )
    def post(self, request: Request, pk: int) -> Response:
        """Cancel a run. A queued run is closed at once (200, status `cancelled`). A running run is asked
        to stop (202): it stops at its next step, or at once inside an interruptible one, and ends
        `cancelled`; a run that already began deploying finishes. The champion is untouched. 409 for a
        run that has already ended."""
        get_object_or_404(RetrainingRun, pk=pk)
        try:
            run = store.cancel(pk, _who(request))
        except store.NotCancellable as exc:
            body = RunSerializer(RetrainingRun.objects.get(pk=pk)).data
            return Response({"detail": str(exc), "run": body}, status=status.HTTP_409_CONFLICT)
        return Response(
            RunSerializer(run).data, status=status.HTTP_200_OK if run.finished else status.HTTP_202_ACCEPTED
        )


def _filtered(request: Request) -> QuerySet[RetrainingRun]:
    runs = RetrainingRun.objects.select_related("triggered_by", "deployment").order_by("-id")
    try:
        return RunFilter.parse(request.query_params).runs(runs)
    except FilterError as exc:
        raise ValidationError(exc.errors) from exc


class RunningTaskSerializer(serializers.Serializer):
    task = serializers.CharField()
    id = serializers.CharField()
    run_id = serializers.IntegerField(allow_null=True, help_text="the run, for a retraining task")
    started_at = serializers.DateTimeField(allow_null=True)


class WorkerSerializer(serializers.Serializer):
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    queues = serializers.ListField(child=serializers.CharField())
    started_at = serializers.DateTimeField()
    last_heartbeat = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True, help_text="set when it stopped cleanly")
    alive = serializers.BooleanField(help_text="heard of within WORKER_HEARTBEAT_TIMEOUT and not stopped")
    running = RunningTaskSerializer(many=True, help_text="what it ran at its last heartbeat")
    setup_fingerprint = serializers.CharField(
        help_text="fingerprint of the training setup its own settings describe; empty if it did not report one"
    )
    consuming = serializers.BooleanField(
        help_text="alive and connected to its broker at its last heartbeat: false while it cannot reach the broker"
    )


class WorkersSerializer(serializers.Serializer):
    workers = WorkerSerializer(many=True, help_text="every worker heard of in the last day, newest first")
    alive = serializers.IntegerField()
    consuming = serializers.IntegerField(help_text="live workers connected to their broker")
    retrain_queue = serializers.CharField()
    retrain_queue_served = serializers.BooleanField(
        help_text="whether a live worker connected to its broker consumes the retrain queue"
    )
    setup_disagreement = serializers.CharField(
        help_text="which live workers on one queue describe different training setups; empty when they agree"
    )
    checked_at = serializers.DateTimeField()


class WorkerList(_RunsView):
    @extend_schema(responses={200: WorkersSerializer, **_REFUSED})
    def get(self, request: Request) -> Response:
        """The Celery workers, when each was last heard of, and what each is running."""
        return Response(WorkersSerializer(heartbeat.liveness()).data)
