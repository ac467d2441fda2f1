"""The prediction API: kept lean, because it is the path every client request takes."""

import json
from typing import Any

import pandas as pd
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from predictor.serving import ServedModel, holder


def _response(body: dict[str, Any], status: int, served: ServedModel | None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["X-Model-Version"] = served.version if served else ""
    return response


@csrf_exempt
@require_POST
def predict(request: HttpRequest) -> JsonResponse:
    models = holder()
    models.ensure_started()
    served = models.current
    if served is None:
        return _response({"error": "no model is deployed yet"}, 503, None)
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _response({"error": f"the body is not valid JSON: {exc}"}, 400, served)
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or not instances:
        return _response({"error": "'instances' must be a non-empty list of rows"}, 400, served)
    frame = pd.DataFrame.from_records(instances, columns=[c["name"] for c in served.columns])
    predictions = served.model.predict(frame)
    return _response(
        {
            "predictions": [str(p) for p in predictions],
            "model": {"name": served.name, "version": served.version, "run_id": served.run_id},
        },
        200,
        served,
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
