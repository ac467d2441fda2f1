"""MLflow's scoring protocol (/invocations, /ping, /health, /version) over the one predict function:
every MLflow body form answers what /api/v1/predict answers on the same rows."""

import csv
import io
import json
from dataclasses import replace

import pytest

from predictor.serving.holder import holder, served_model
from tests.support.keys import create_key

INVOCATIONS = "/invocations"
PREDICT = "/api/v1/predict"


def invoke(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(INVOCATIONS, data, content_type=content_type, **headers)


def predicted(client, rows):
    response = client.post(PREDICT, json.dumps({"instances": rows}), content_type="application/json")
    assert response.status_code == 200, response.json()
    return response.json()["predictions"]


def csv_of(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    # A gap is an empty cell, as pandas' to_csv writes it.
    writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in rows])
    return out.getvalue()


def bodies(rows):
    columns = list(rows[0])
    return {
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}},
        "dataframe_records": {"dataframe_records": rows},
        "instances": {"instances": rows},
        "inputs as records": {"inputs": rows},
        "inputs as columns": {"inputs": {c: [r[c] for r in rows] for c in columns}},
        "with params": {"dataframe_records": rows, "params": {"threshold": 0.5}},
    }


FORMS = list(bodies([{"a": 1}]))


@pytest.mark.parametrize("form", FORMS)
def test_every_mlflow_json_form_answers_as_the_predict_api(client, served, rows, form):
    response = invoke(client, bodies(rows)[form])

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"predictions": predicted(client, rows)}


def test_csv_with_a_header_row_answers_as_the_predict_api(client, served, rows):
    response = invoke(client, csv_of(rows), "text/csv")

    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": predicted(client, rows)}


def test_csv_with_a_utf8_charset_is_accepted_and_another_is_refused(client, served, rows):
    assert invoke(client, csv_of(rows), "text/csv; charset=utf-8").status_code == 200
    refused = invoke(client, csv_of(rows), "text/csv; charset=latin-1")

    assert refused.status_code == 415
    assert "UTF-8" in refused.json()["message"]


def test_the_answer_carries_the_model_version_and_one_prediction_id_per_row(client, served, rows):
    response = invoke(client, {"dataframe_records": rows})

    assert response["X-Model-Version"] == served.version
    assert len(response["X-Prediction-Id"].split(",")) == len(rows)


def test_past_a_hundred_rows_the_prediction_ids_are_left_out_of_the_headers(client, served, rows):
    many = (rows * 40)[:101]
    response = invoke(client, {"dataframe_records": many})

    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 101
    assert "X-Prediction-Id" not in response


def test_a_whole_record_with_the_id_and_excluded_columns_is_accepted_in_json_and_csv(
    client, served, rows, penguin_versions
):
    row = {"id": served.pk, "model_name": served.model_name, "run_id": served.run_id}
    holder().serve(replace(served_model(row, penguin_versions.first), ignored=frozenset({"band", "field_note"})))
    whole = [{"band": f"b{i}", **r, "field_note": "seen at dawn"} for i, r in enumerate(rows)]

    as_json = invoke(client, {"inputs": whole})
    as_csv = invoke(client, csv_of(whole), "text/csv")

    assert as_json.status_code == 200, as_json.content
    assert as_csv.status_code == 200, as_csv.content
    assert as_json.json() == as_csv.json() == {"predictions": predicted(client, rows)}


def test_a_bad_value_is_named_by_row_and_field_in_mlflows_error_shape(client, served, rows):
    bad = [dict(rows[0]), {**rows[1], "bill_length_mm": "long"}]
    response = invoke(client, {"dataframe_records": bad})

    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "BAD_REQUEST"
    assert body["message"] == "some values do not match the model's input schema"
    assert body["errors"] == [{"row": 1, "field": "bill_length_mm", "message": 'must be a finite number, got "long"'}]


def test_a_bad_number_in_csv_is_named_by_row_and_field(client, served, rows):
    text = csv_of(rows).replace(str(rows[2]["bill_length_mm"]), "long", 1)
    response = invoke(client, text, "text/csv")

    assert response.status_code == 400
    assert {"row": 2, "field": "bill_length_mm", "message": 'must be a finite number, got "long"'} in response.json()[
        "errors"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the body is not valid JSON"),
        ("[1, 2]", "the body must be a JSON object with one of the keys"),
        (
            {"rows": []},
            "the body must have exactly one of the keys dataframe_split, dataframe_records, instances, inputs",
        ),
        ({"inputs": {"island": ["Dream"], "sex": []}}, "'inputs' as columns must give every column the same number"),
        ({"inputs": 3}, "'inputs' must be a list of rows or an object of columns"),
        ({"instances": [{}], "params": [1]}, "'params' must be an object"),
        ({"instances": []}, "the batch is empty"),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_problem(client, served, body, message):
    response = invoke(client, body)

    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert response.json()["message"].startswith(message), response.json()


def test_csv_without_rows_is_a_400(client, served, rows):
    response = invoke(client, ",".join(rows[0]) + "\n", "text/csv")

    assert response.status_code == 400
    assert response.json()["message"].startswith("the batch is empty")


def test_csv_with_windows_line_ends_answers_as_the_predict_api(client, served, rows):
    response = invoke(client, csv_of(rows).replace("\n", "\r\n"), "text/csv")

    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": predicted(client, rows)}


def test_csv_the_reader_cannot_parse_is_a_400_naming_the_problem(client, served, rows):
    # A quote left open to the end of the body.
    response = invoke(client, ",".join(rows[0]) + '\n"unclosed', "text/csv")

    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith("the CSV body cannot be read")


def test_a_carriage_return_inside_a_line_is_a_line_end_not_a_server_error(client, served):
    # What schemathesis sent: control characters and a lone carriage return.
    body = "\u00cd\u00b8\u00923\x1e\U000fbba9\u00d5\r\u00c8GE\u00b3\u00d5"

    response = invoke(client, body, "text/csv")

    assert response.status_code == 400, response.content


def test_another_content_type_is_a_415_naming_the_accepted_ones(client, served, rows):
    response = invoke(client, "x", "text/plain")

    assert response.status_code == 415
    assert response.json()["message"] == (
        "the body must be JSON (Content-Type: application/json) or CSV with a header row (text/csv), got text/plain"
    )


def test_other_methods_are_refused(client, served):
    response = client.get(INVOCATIONS)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_without_a_model_invocations_is_503_and_ping_404(client, db, follower_off, rows):
    assert invoke(client, {"instances": rows}).status_code == 503
    assert client.get("/ping").status_code == 404
    assert client.get("/health").status_code == 404


@pytest.mark.parametrize("path", ["/ping", "/health"])
def test_ping_and_health_answer_as_mlflows(client, served, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.content == b"\n"
    assert response["Content-Type"] == "application/json"


def test_version_is_the_mlflow_version_the_protocol_follows(client, db):
    from mlflow.version import VERSION

    response = client.get("/version")

    assert response.status_code == 200
    assert response.content.decode() == VERSION


def test_an_api_key_is_required_when_keys_are_on(client, served, rows, keys_required):
    refused = invoke(client, {"instances": rows})
    _, key = create_key("mlflow client")
    accepted = invoke(client, {"instances": rows}, HTTP_AUTHORIZATION=f"Bearer {key}")

    assert refused.status_code == 401
    assert refused.json()["error_code"] == "UNAUTHENTICATED"
    assert "API key is required" in refused.json()["message"]
    assert accepted.status_code == 200
    assert client.get("/ping").status_code == 200


def test_the_openapi_schema_documents_the_mlflow_routes(client, served):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    content = paths[INVOCATIONS]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert {"/ping", "/health", "/version"} <= set(paths)


def test_nan_as_mlflows_clients_write_a_gap_is_read_as_null(client, served, rows):
    # bill_length_mm is optional in the model's signature.
    gapped = [{**rows[0], "bill_length_mm": None}, *rows[1:]]
    text = json.dumps({"dataframe_records": gapped}).replace("null", "NaN")

    response = invoke(client, text)

    assert "NaN" in text
    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": predicted(client, gapped)}


def test_a_keys_rows_are_counted_across_both_protocols(client, served, rows, keys_required):
    from django.core.cache import cache

    cache.clear()
    _, key = create_key("batch job", row_limit=6)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    first = client.post(PREDICT, json.dumps({"instances": rows}), content_type="application/json", **auth)
    second = invoke(client, {"inputs": rows}, **auth)
    third = invoke(client, csv_of(rows), "text/csv", **auth)

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert third.json() == {
        "error_code": "REQUEST_LIMIT_EXCEEDED",
        "message": "row limit of 6 rows per minute passed for this key: send fewer rows",
    }
    assert third["Retry-After"] == "60"
