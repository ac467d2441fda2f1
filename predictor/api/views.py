"""The prediction API: plain Django views, because this is the path every client request takes.
`predict` is the JSON adapter over the one predict function (predictor/api/predict.py).

DRF's request/response machinery (content negotiation, parsers, renderers, throttles) costs more
than the whole of the input check here; the OpenAPI description is written by hand instead
(predictor/api/openapi.py). Every response carries the version this process serves in
X-Model-Version, errors included, so a client can always tell which model answered.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ml.kinds import part_names
from predictor import predlog
from predictor.api import admission, apikeys, inputs
from predictor.api import predict as predict_function
from predictor.api.address import client_address
from predictor.models import Deployment
from predictor.serving.holder import ServedModel, holder


def respond(
    content: bytes, status: int, served: ServedModel | None, content_type: str = "application/json", **headers: str
) -> HttpResponse:
    """An answer of any protocol: its body as encoded, the served version and the protocol's headers."""
    response = HttpResponse(content, status=status, content_type=content_type)
    response["X-Model-Version"] = served.version if served else ""
    for name, value in headers.items():
        response[name] = value
    return response


def json_response(body: dict[str, Any], status: int, served: ServedModel | None, **headers: str) -> HttpResponse:
    return respond(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status, served, **headers)


def not_allowed(served: ServedModel | None, allowed: str) -> HttpResponse:
    return json_response({"error": f"method not allowed: use {allowed}"}, 405, served, Allow=allowed)


def refused(refusal: admission.Refusal, served: ServedModel | None) -> HttpResponse:
    """An admission refusal as the JSON error every protocol but MLflow's sends (V2's too)."""
    return json_response({"error": refusal.message}, refusal.status, served, **refusal.headers)


@csrf_exempt
def predict(request: HttpRequest) -> HttpResponse:
    models = holder()
    served, key, refusal = admission.admit(request, models, "POST", admission.NO_MODEL)
    if refusal is not None:
        return refused(refusal, served)
    if request.content_type != "application/json":
        shown = request.content_type or "none"
        return json_response(
            {"error": f"the body must be JSON (Content-Type: application/json), got {shown}"}, 415, served
        )
    with admission.one_at_a_time_if_large(request):
        return _answer(request, models, served, key)


def _answer(request: HttpRequest, models: Any, served: ServedModel, key: apikeys.KeyInfo | None) -> HttpResponse:
    """The JSON adapter over `predict.predict`: decode the body, encode the outcome."""
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        return json_response({"error": f"the body is not valid JSON: {exc}"}, 400, served)
    except RequestDataTooBig:
        return json_response({"error": "the body is too large: send fewer rows per request"}, 413, served)
    outcome = predict_function.predict(body, served, models, key)
    return json_response(outcome.body, outcome.status, served, **admission.answer_headers(outcome))


@csrf_exempt
def feedback(request: HttpRequest) -> HttpResponse:
    """Ground truth for logged predictions: one item or {"feedback": [...]}, all or nothing.

    200 when every label was recorded; 202 when some wait for their prediction to be logged."""
    served = holder().current
    if request.method != "POST":
        return not_allowed(served, "POST")
    key, refusal = admission.key_of(request, settings.API_KEYS_REQUIRED or settings.FEEDBACK_REQUIRES_KEY)
    if refusal is not None:
        return refused(refusal, served)
    if request.content_type != "application/json":
        shown = request.content_type or "none"
        return json_response(
            {"error": f"the body must be JSON (Content-Type: application/json), got {shown}"}, 415, served
        )
    try:
        items = predlog.items_of(orjson.loads(request.body))
        recorded, held = predlog.record_labels(items, _labeller(request, key))
    except orjson.JSONDecodeError as exc:
        return json_response({"error": f"the body is not valid JSON: {exc}"}, 400, served)
    except RequestDataTooBig:
        return json_response({"error": "the body is too large: send fewer items per request"}, 413, served)
    except predlog.InvalidFeedback as exc:
        return json_response(exc.as_dict(), exc.status, served)
    if held:
        return json_response({"recorded": recorded, "held": held}, 202, served)
    return json_response({"recorded": recorded}, 200, served)


def _labeller(request: HttpRequest, key: apikeys.KeyInfo | None) -> predlog.Labeller:
    """Who sends labels: the API key, else a signed-in user, else the client's address."""
    if key is not None:
        return predlog.Labeller.of_key(key.pk)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return predlog.Labeller(f"user:{user.get_username()}")
    return predlog.Labeller(f"address:{client_address(request.META)}")


# Read-only endpoints are exempt from CSRF so that any other method gets its JSON 405 from the
# view: CSRF would refuse an unknown method (QUERY, ...) first, with an HTML 403 page.
@csrf_exempt
def model(request: HttpRequest) -> HttpResponse:
    served, _, refusal = admission.admit(request, holder(), "GET", "no model is deployed yet")
    if refusal is not None:
        return refused(refusal, served)
    deployment = Deployment.objects.filter(pk=served.deployment_id).first()
    return json_response(
        {
            "name": served.name,
            "version": served.version,
            "run_id": served.run_id,
            "since": deployment.created_at.isoformat() if deployment else None,
            "source": deployment.source if deployment else None,
            "metrics": deployment.metrics if deployment else {},
            "data_version": deployment.data_version if deployment else {},
            "task": served.task,
            "classes": served.classes.tolist() if served.classes is not None else None,
            "serving": served.serving,
            "inference": served.inference,
            "input_schema": {
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "required": c.required,
                        "categories": served.categories.get(c.name),
                    }
                    for c in served.schema
                ],
                # Sent with a whole record, these are accepted and ignored.
                "ignored": sorted(served.ignored),
                # Sent as dates (ISO 8601); the model reads each as the listed numeric parts.
                "dates": {name: part_names(name, timed) for name, timed in served.dates.items()},
                "formats": list(inputs.FORMATS),
                "max_rows": settings.PREDICT_MAX_ROWS,
            },
        },
        200,
        served,
    )


@csrf_exempt
def healthz(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return not_allowed(holder().current, "GET, HEAD")
    return json_response({"status": "ok"}, 200, holder().current)


@csrf_exempt
def readyz(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return not_allowed(holder().current, "GET, HEAD")
    models = holder()
    served = models.current
    if served is None:
        body = {"status": "not ready", "error": models.error or "no model is loaded yet"}
        return json_response(body, 503, None)
    if models.error:
        return json_response({"status": "failing", "version": served.version, "error": models.error}, 503, served)
    body = {"status": "ready", "version": served.version, "model": served.name}
    # Still ready with Redis down: the model answers, and rate limits are counted per process.
    body["rate_limits"], error = apikeys.counting()
    if error:
        body["rate_limits_error"] = error
    return json_response(body, 200, served)
