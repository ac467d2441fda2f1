"""REST for scripts and CI: start a run, list runs, read one run with everything it recorded.

Who may call it: a staff session, or a request carrying `Authorization: Bearer <RETRAIN_API_TOKEN>`.
No credentials (or a wrong token) is 401; a signed-in user who is not staff is 403. Starting a
run while one is in progress is 409 Conflict, with the run in progress in the body: the caller
learns which run to follow instead of believing its own trigger was queued.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictor.api.access import RetrainTokenAuthentication, StaffOrToken
from retraining import services
from retraining.models import RetrainingRun
from retraining.notify import channels
from retraining.runs import wording
from retraining.workers import heartbeat


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
    holdout = serializers.SerializerMethodField(
        help_text="in plain words: rows excluded because a compared model trained on them, the interval next to "
        "the p-value, and the smallest gain this holdout could detect"
    )

    class Meta:
        model = RetrainingRun
        exclude = ["active", "tick", "deployment", "stall_notified_at"]

    def get_url(self, run: RetrainingRun) -> str:
        return channels.run_link(run)

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


class _RunsView(APIView):
    authentication_classes = [RetrainTokenAuthentication, SessionAuthentication]
    permission_classes = [StaffOrToken]


class RunList(_RunsView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=RetrainingRun.Status.values),
            OpenApiParameter("trigger", str, enum=RetrainingRun.Trigger.values),
        ],
        responses={200: RunPageSerializer, 400: FilterErrorSerializer, **_REFUSED},
        operation_id="v1_runs_list",
    )
    def get(self, request: Request) -> Response:
        """Runs, newest first, optionally only those with a status and/or a trigger."""
        paginator = RunPagination()
        page = paginator.paginate_queryset(_filtered(request), request, view=self)
        return paginator.get_paginated_response(RunSummarySerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: RunSerializer, 409: ConflictSerializer, **_REFUSED})
    def post(self, request: Request) -> Response:
        """Queue a run for the worker (201), or name the run in progress (409)."""
        user = request.user if request.user.is_authenticated else None
        run, created = services.trigger_run(RetrainingRun.Trigger.API, user)
        body = RunSerializer(run).data
        if not created:
            detail = f"run #{run.pk} is already {run.status} (started by {run.trigger}); follow it instead"
            return Response({"detail": detail, "run": body}, status=status.HTTP_409_CONFLICT)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": reverse("api-run", args=[run.pk])})


class RunDetail(_RunsView):
    @extend_schema(responses={200: RunSerializer, 404: DetailSerializer, **_REFUSED})
    def get(self, request: Request, pk: int) -> Response:
        """One run with everything it recorded: data version, steps, metrics, decision, notifications."""
        return Response(RunSerializer(get_object_or_404(RetrainingRun, pk=pk)).data)


def _filtered(request: Request) -> QuerySet[RetrainingRun]:
    runs = RetrainingRun.objects.select_related("triggered_by", "deployment").order_by("-id")
    filters = {}
    for name, choices in (("status", RetrainingRun.Status.values), ("trigger", RetrainingRun.Trigger.values)):
        value = request.query_params.get(name)
        if value is None:
            continue
        if value not in choices:
            raise ValidationError({name: f"unknown {name} {value!r}: choose one of {', '.join(choices)}"})
        filters[name] = value
    return runs.filter(**filters)


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


class WorkersSerializer(serializers.Serializer):
    workers = WorkerSerializer(many=True, help_text="every worker heard of in the last day, newest first")
    alive = serializers.IntegerField()
    retrain_queue = serializers.CharField()
    retrain_queue_served = serializers.BooleanField(help_text="whether a live worker consumes the retrain queue")
    checked_at = serializers.DateTimeField()


class WorkerList(_RunsView):
    @extend_schema(responses={200: WorkersSerializer, **_REFUSED})
    def get(self, request: Request) -> Response:
        """The Celery workers, when each was last heard of, and what each is running."""
        return Response(WorkersSerializer(heartbeat.liveness()).data)
