import json
import uuid
from dataclasses import replace

import numpy as np
import pytest
from django.test import Client

from predictor.api import inputs
from predictor.serving.holder import holder

PREDICT = "/api/v1/predict"


def post(client, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(PREDICT, data, content_type=content_type)


def split_of(rows):
    columns = list(rows[0])
    return {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}}


def test_it_predicts_with_labels_probabilities_and_the_model(client, served, rows):
    response = post(client, {"instances": rows})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": served.model_name, "version": "1", "run_id": ""}
    assert body["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(body["predictions"]) == 3
    for label, probabilities in zip(body["predictions"], body["probabilities"], strict=True):
        assert sum(probabilities) == pytest.approx(1.0)
        assert body["classes"][probabilities.index(max(probabilities))] == label
    assert response["X-Model-Version"] == "1"


def test_the_three_body_formats_give_the_same_predictions(client, served, rows):
    as_instances = without_ids(post(client, {"instances": rows}).json())
    as_records = without_ids(post(client, {"dataframe_records": rows}).json())
    split = split_of(rows)
    split["dataframe_split"]["index"] = [10, 11, 12]
    as_split = without_ids(post(client, split).json())
    assert as_instances == as_records == as_split


def without_ids(body):
    return {key: value for key, value in body.items() if key != "prediction_ids"}


def test_every_prediction_gets_an_id_in_the_body_and_the_header(client, served, rows):
    response = post(client, {"instances": rows[:1]})
    ids = response.json()["prediction_ids"]
    assert len(ids) == 1
    assert uuid.UUID(ids[0]).version == 7
    assert response["X-Prediction-Id"] == ids[0]


def test_several_rows_get_one_id_each_in_row_order_and_all_in_the_header(client, served, rows):
    response = post(client, {"instances": rows})
    ids = response.json()["prediction_ids"]
    assert len(ids) == len(set(ids)) == 3
    assert response["X-Prediction-Id"] == ",".join(ids)
    assert ids != post(client, {"instances": rows}).json()["prediction_ids"]


def test_past_a_hundred_rows_the_ids_are_only_in_the_body(client, served, rows):
    response = post(client, {"instances": rows * 34})
    assert len(response.json()["prediction_ids"]) == 102
    assert not response.has_header("X-Prediction-Id")


def test_a_refused_request_gets_no_prediction_id(client, served, rows):
    del rows[0]["island"]
    response = post(client, {"instances": rows})
    assert response.status_code == 400
    assert "prediction_ids" not in response.json()
    assert not response.has_header("X-Prediction-Id")


def test_the_predictions_are_the_models_own(client, served, rows, penguin_versions):
    import pandas as pd

    expected = penguin_versions.first.model.predict(pd.DataFrame(rows))
    assert post(client, {"instances": rows}).json()["predictions"] == list(expected)


def test_compiled_inference_answers_exactly_as_the_model_itself(client, served, rows):
    rows[0]["bill_length_mm"] = None
    rows[1]["sex"] = None
    rows[2]["island"] = "Atlantis"
    current = holder().current
    assert current.compiled is not None, current.inference
    compiled = without_ids(post(client, {"instances": rows}).json())
    holder().serve(replace(current, compiled=None))
    own = without_ids(post(client, {"instances": rows}).json())
    assert compiled == own
    assert compiled["probabilities"] == current.model.predict_proba(inputs.frame_of(as_columns(rows))).tolist()


def test_a_failure_of_the_compiled_path_is_answered_by_the_model_itself(client, served, rows):
    current = holder().current
    broken = type("Broken", (), {"predict_proba": lambda self, columns: 1 / 0})()
    expected = without_ids(post(client, {"instances": rows}).json())
    holder().serve(replace(current, compiled=broken))
    response = post(client, {"instances": rows})
    assert response.status_code == 200
    assert without_ids(response.json()) == expected
    assert holder().current.counters.failures == 0


def as_columns(rows):
    import numpy as np

    return {
        name: np.array([r[name] for r in rows], dtype=object if isinstance(rows[0][name], str) else float)
        for name in rows[0]
    }


def test_it_accepts_null_in_an_optional_column(client, served, rows):
    rows[0]["bill_length_mm"] = None
    rows[1]["sex"] = None
    assert post(client, {"instances": rows}).status_code == 200


def test_it_accepts_an_unknown_category_and_says_so(client, served, rows):
    rows[1]["island"] = "Atlantis"
    response = post(client, {"instances": rows})
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "island: Atlantis not seen in training; the model treats it as no known category"
    ]


def test_it_rejects_a_missing_column_naming_the_row_and_field(client, served, rows):
    del rows[1]["island"]
    response = post(client, {"instances": rows})
    assert response.status_code == 400
    assert response.json() == {
        "error": "some rows do not match the model's input schema",
        "errors": [{"row": 1, "field": "island", "message": "this column is missing"}],
    }
    assert response["X-Model-Version"] == "1"


def test_it_rejects_a_missing_column_in_dataframe_split(client, served, rows):
    for row in rows:
        del row["year"]
    response = post(client, split_of(rows))
    assert response.status_code == 400
    assert response.json() == {
        "error": "the columns do not match the model's input schema",
        "errors": [{"row": None, "field": "year", "message": "this column is missing"}],
    }


@pytest.mark.parametrize("shape", ["instances", "dataframe_records", "dataframe_split"])
def test_it_rejects_an_unknown_field_in_every_format(client, served, rows, shape):
    for row in rows:
        row["colour"] = "blue"
    body = split_of(rows) if shape == "dataframe_split" else {shape: rows}
    response = post(client, body)
    assert response.status_code == 400
    fields = {(e["field"], e["message"]) for e in response.json()["errors"]}
    assert fields == {("colour", "unknown field")}


def test_it_rejects_values_of_the_wrong_type_naming_each(client, served, rows):
    rows[0]["bill_length_mm"] = "long"
    rows[2]["year"] = 2008.5
    rows[2]["island"] = 3
    response = post(client, {"instances": rows})
    assert response.status_code == 400
    assert response.json() == {
        "error": "some values do not match the model's input schema",
        "errors": [
            {"row": 0, "field": "bill_length_mm", "message": 'must be a finite number, got "long"'},
            {"row": 2, "field": "island", "message": "must be a string, got 3"},
            {"row": 2, "field": "year", "message": "must be a whole number, got 2008.5"},
        ],
    }


def test_it_rejects_null_in_a_required_column(client, served, rows):
    rows[1]["island"] = None
    response = post(client, {"instances": rows})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 1, "field": "island", "message": "this column is required: null is not allowed"}
    ]


@pytest.mark.parametrize("value", [True, [1], {"a": 1}])
def test_it_rejects_values_that_are_not_numbers_in_a_numeric_column(client, served, rows, value):
    rows[0]["body_mass_g"] = value
    response = post(client, {"instances": rows})
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(0, "body_mass_g")]


@pytest.mark.parametrize("number", ["1e400", "1" + "0" * 400])
def test_it_rejects_numbers_too_large_for_the_model(client, served, rows, number):
    rows[0]["body_mass_g"] = 123456.0
    body = json.dumps({"instances": rows}).replace("123456.0", number)
    response = post(client, body)
    assert response.status_code == 400
    at = body.index(number)
    assert response.json()["error"] == (
        f"the body is not valid JSON: number is infinity when parsed as double: line 1 column {at + 1} (char {at})"
    )


def test_it_rejects_malformed_json(client, served):
    response = post(client, '{"instances": [')
    assert response.status_code == 400
    assert response.json()["error"].startswith("the body is not valid JSON: ")
    assert response["X-Model-Version"] == "1"


def test_it_rejects_nan_which_is_not_json(client, served, rows):
    response = post(client, json.dumps({"instances": rows}).replace("50.1", "NaN"))
    assert response.status_code == 400
    assert response.json()["error"].startswith("the body is not valid JSON")


def test_it_refuses_a_body_that_is_not_json(client, served):
    response = post(client, "island=Dream", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {
        "error": "the body must be JSON (Content-Type: application/json), got application/x-www-form-urlencoded"
    }
    assert response["X-Model-Version"] == "1"


@pytest.mark.parametrize("body", [{"instances": []}, {"dataframe_split": {"columns": [], "data": []}}])
def test_it_rejects_an_empty_batch(client, served, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": "the batch is empty: send at least one row"}


def test_it_rejects_a_body_without_a_known_format(client, served, rows):
    response = post(client, {"rows": rows})
    assert response.status_code == 400
    assert response.json() == {
        "error": "the body must have exactly one of the keys instances, dataframe_split, dataframe_records; "
        "unknown key(s): rows"
    }


def test_it_refuses_more_rows_than_the_limit(client, served, rows, settings):
    settings.PREDICT_MAX_ROWS = 2
    response = post(client, {"instances": rows})
    assert response.status_code == 413
    assert response.json() == {"error": "3 rows is more than the limit of 2 per request"}
    assert response["X-Model-Version"] == "1"


def test_it_answers_503_before_any_model_is_deployed(client, db, follower_off, rows):
    response = post(client, {"instances": rows})
    assert response.status_code == 503
    assert response.json() == {"error": "no model is deployed yet: deploy one (the pipeline's first run does)"}
    assert response["X-Model-Version"] == ""


def test_it_refuses_other_methods(client, served):
    response = client.get(PREDICT)
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed: use POST"}


def test_a_model_failure_is_a_503_and_counted(client, served, rows):
    current = holder().current
    broken = type("Broken", (), {"predict_proba": lambda self, frame: 1 / 0})()
    holder().serve(replace(current, model=broken, compiled=None))
    response = post(client, {"instances": rows})
    assert response.status_code == 503
    assert response.json() == {"error": "model version 1 failed on this input: ZeroDivisionError: division by zero"}
    assert holder().current.counters.failures == 1


def test_model_endpoint_describes_the_served_model_and_its_schema(client, served):
    served.metrics = {"accuracy": 0.97}
    served.data_version = {"md5": "abc", "rev": "r1"}
    served.save()
    response = client.get("/api/v1/model")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1"
    assert body["since"] == served.created_at.isoformat()
    assert body["metrics"] == {"accuracy": 0.97}
    assert body["data_version"] == {"md5": "abc", "rev": "r1"}
    columns = {c["name"]: c for c in body["input_schema"]["columns"]}
    assert columns["island"] == {
        "name": "island",
        "type": "string",
        "required": True,
        "categories": ["Biscoe", "Dream", "Torgersen"],
    }
    assert columns["year"]["type"] == "long"
    assert columns["bill_length_mm"]["required"] is False
    assert body["inference"].startswith("compiled")
    assert response["X-Model-Version"] == "1"


def test_model_endpoint_says_when_nothing_is_deployed(client, db, follower_off):
    response = client.get("/api/v1/model")
    assert response.status_code == 503
    assert response.json() == {"error": "no model is deployed yet"}


def test_healthz_answers_while_no_model_is_loaded(client, db, follower_off):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_until_a_model_is_loaded(client, db, follower_off):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "error": "no model is loaded yet"}


def test_readyz_names_the_served_version(client, served):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "version": "1", "model": served.model_name, "rate_limits": "off"}


def test_the_openapi_schema_describes_the_serving_endpoints(client, served):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/predict", "/api/v1/model", "/healthz", "/readyz"} <= set(paths)
    assert set(paths["/api/v1/predict"]["post"]["responses"]) >= {"200", "400", "413", "415", "503"}


def test_the_api_docs_load_without_a_cdn(client, served, plain_static):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page


def test_a_method_an_endpoint_does_not_have_is_a_json_405(served):
    client = Client(enforce_csrf_checks=True)
    for method, path in [("TRACE", "/healthz"), ("TRACE", "/readyz"), ("QUERY", "/api/v1/model"), ("QUERY", PREDICT)]:
        response = client.generic(method, path)

        assert response.status_code == 405, (method, path)
        assert response.json()["error"].startswith("method not allowed: use ")
        assert response["Allow"]


def test_an_unknown_api_path_is_a_json_404(client, db):
    response = client.get("/api/v1/runs/null,null")

    assert response.status_code == 404
    assert response.json() == {"detail": "no such resource: /api/v1/runs/null,null"}


def test_the_schema_describes_the_rows_of_the_served_model(client, served):
    body = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"][PREDICT]["post"]
    shapes = body["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    instances = shapes[0]["properties"]["instances"]
    split = shapes[1]["properties"]["dataframe_split"]["properties"]

    assert instances["minItems"] == 1
    assert instances["items"]["additionalProperties"] is False
    assert instances["items"]["properties"]["island"] == {"type": "string"}
    assert instances["items"]["properties"]["bill_length_mm"] == {"type": ["number", "null"]}
    assert set(instances["items"]["required"]) == {c.name for c in served_schema()}
    assert split["columns"] == {"const": [c.name for c in served_schema()]}
    assert split["data"]["items"]["prefixItems"][0] == {"type": "string"}


def served_schema():
    return holder().current.schema


def test_a_whole_record_with_the_id_and_excluded_columns_is_accepted_and_they_are_ignored(
    client, served, rows, penguin_versions
):
    from predictor.serving.holder import served_model

    row = {"id": served.pk, "model_name": served.model_name, "run_id": served.run_id}
    holder().serve(replace(served_model(row, penguin_versions.first), ignored=frozenset({"band", "field_note"})))
    whole = [{**r, "band": f"b{i}", "field_note": "seen at dawn"} for i, r in enumerate(rows)]

    as_records = post(client, {"instances": whole})
    as_split = post(client, split_of(whole))

    assert as_records.status_code == 200, as_records.json()
    assert as_split.status_code == 200, as_split.json()
    assert as_records.json()["predictions"] == post(client, {"instances": rows}).json()["predictions"]
    assert as_split.json()["predictions"] == as_records.json()["predictions"]
    schema = client.get("/api/v1/model").json()["input_schema"]
    assert schema["ignored"] == ["band", "field_note"]
    unknown = post(client, {"instances": [{**rows[0], "bnad": "x"}]})
    assert unknown.status_code == 400
    assert {"row": 0, "field": "bnad", "message": "unknown field"} in unknown.json()["errors"]


def test_a_boolean_column_seen_in_training_warns_of_nothing():
    checked = inputs.check(
        {"instances": [{"ringed": True}, {"ringed": False}]},
        [inputs.Column("ringed", "boolean", True)],
        {"ringed": {"False", "True"}},
        10,
    )

    assert checked.warnings == []


DATED = [
    inputs.Column("island", "string", True),
    inputs.Column("seen_on_year", "double", True),
    inputs.Column("seen_on_month", "double", True),
    inputs.Column("seen_on_dayofweek", "double", True),
]


def test_a_date_is_sent_as_a_date_and_read_as_the_parts_the_model_was_trained_on():
    body = {"instances": [{"island": "Dream", "seen_on": "2026-12-01"}, {"island": "Biscoe", "seen_on": None}]}

    checked = inputs.check(body, DATED, {}, 10, dates={"seen_on": False})

    assert list(checked.columns) == ["island", "seen_on_year", "seen_on_month", "seen_on_dayofweek"]
    assert checked.columns["seen_on_year"][0] == 2026.0
    assert checked.columns["seen_on_month"][0] == 12.0
    assert checked.columns["seen_on_dayofweek"][0] == 1.0  # a Tuesday
    assert np.isnan(checked.columns["seen_on_month"][1])


def test_a_value_that_is_no_date_is_named():
    body = {"instances": [{"island": "Dream", "seen_on": "last tuesday"}]}

    with pytest.raises(inputs.InvalidInput) as refused:
        inputs.check(body, DATED, {}, 10, dates={"seen_on": False})

    assert refused.value.errors == [
        {"row": 0, "field": "seen_on", "message": 'must be a date (ISO 8601), got "last tuesday"'}
    ]
