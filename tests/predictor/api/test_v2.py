"""The Open Inference Protocol (V2) over REST, through the Django test client: metadata, health,
inference in JSON and in the binary data extension, answering as /api/v1/predict does."""

import json
import struct
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from predictor.serving.holder import holder, served_model
from tests.predictor.api.test_predict_regression import regressor, served_regressor  # noqa: F401

DATATYPES = {"double": "FP64", "float": "FP64", "long": "INT64", "integer": "INT64", "boolean": "BOOL"}


def v2_inputs(rows, shape_n1=False):
    """One JSON input per column of the served schema, in the datatype its type asks for."""
    types = {c.name: c.type for c in holder().current.schema}
    inputs = []
    for name in rows[0]:
        data = [row[name] for row in rows]
        shape = [len(rows), 1] if shape_n1 else [len(rows)]
        inputs.append({"name": name, "datatype": DATATYPES.get(types.get(name), "BYTES"), "shape": shape, "data": data})
    return inputs


def infer(client, body, path=None, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body)
    url = path or f"/v2/models/{holder().current.name}/infer"
    return client.post(url, data, content_type="application/json", headers=headers)


def outputs_of(body):
    return {o["name"]: o["data"] for o in body["outputs"]}


def test_the_model_metadata_lists_each_column_with_its_datatype_and_the_outputs(client, served):
    served_now = holder().current
    response = client.get(f"/v2/models/{served.model_name}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == served.model_name
    assert body["versions"] == ["1"]
    expected = [{"name": c.name, "datatype": DATATYPES.get(c.type, "BYTES"), "shape": [-1]} for c in served_now.schema]
    assert body["inputs"] == expected
    assert {"name": "island", "datatype": "BYTES", "shape": [-1]} in body["inputs"]
    assert [o["name"] for o in body["outputs"]] == [
        "predictions",
        "probability_Adelie",
        "probability_Chinstrap",
        "probability_Gentoo",
    ]
    assert client.get(f"/v2/models/{served.model_name}/versions/1").json() == body


def test_health_readiness_and_the_server_metadata(client, served):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get(f"/v2/models/{served.model_name}/ready").json() == {"name": served.model_name, "ready": True}
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]


def test_not_ready_before_any_model_is_served(client, db, follower_off):
    assert client.get("/v2/health/live").status_code == 200
    response = client.get("/v2/health/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert "no model" in client.get("/v2/models/any/ready").json()["error"]


def test_infer_answers_what_api_v1_predict_answers_with_ids_and_version(client, served, rows):
    predicted = client.post("/api/v1/predict", json.dumps({"instances": rows}), content_type="application/json").json()

    response = infer(client, {"id": "r-1", "inputs": v2_inputs(rows)})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_name"] == served.model_name
    assert body["model_version"] == "1"
    assert body["id"] == "r-1"
    outputs = outputs_of(body)
    assert outputs["predictions"] == predicted["predictions"]
    for i, label in enumerate(predicted["classes"]):
        assert outputs[f"probability_{label}"] == [p[i] for p in predicted["probabilities"]]
    ids = body["parameters"]["prediction_ids"].split(",")
    assert len(ids) == 3
    assert response["X-Prediction-Id"] == ",".join(ids)
    assert body["parameters"]["model_version"] == response["X-Model-Version"] == "1"


def test_shape_n_by_1_nested_and_requested_outputs(client, served, rows):
    inputs = v2_inputs(rows, shape_n1=True)
    for tensor in inputs:
        tensor["data"] = [[v] for v in tensor["data"]]
    response = infer(client, {"inputs": inputs, "outputs": [{"name": "predictions"}]})

    assert response.status_code == 200, response.content
    assert [o["name"] for o in response.json()["outputs"]] == ["predictions"]
    assert response.json()["outputs"][0]["shape"] == [3]


def binary_of(tensor):
    """The tensor's data as the binary extension carries it (written here, independently of the server)."""
    if tensor["datatype"] == "BYTES":
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in tensor["data"])
    kind = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "INT32": "<i4", "INT8": "<i1", "BOOL": "|b1"}
    return np.array([np.nan if v is None else v for v in tensor["data"]], dtype=kind[tensor["datatype"]]).tobytes()


def binary_request(inputs, parameters):
    chunks = []
    for tensor in inputs:
        chunk = binary_of(tensor)
        chunks.append(chunk)
        tensor["parameters"] = {"binary_data_size": len(chunk)}
        del tensor["data"]
    header = json.dumps({"inputs": inputs, "parameters": parameters}).encode()
    return header + b"".join(chunks), str(len(header))


def read_binary(response):
    length = int(response["Inference-Header-Content-Length"])
    header, rest = json.loads(response.content[:length]), response.content[length:]
    values = {}
    for output in header["outputs"]:
        size = output["parameters"]["binary_data_size"]
        chunk, rest = rest[:size], rest[size:]
        if output["datatype"] == "BYTES":
            items = []
            while chunk:
                (n,) = struct.unpack_from("<I", chunk)
                items.append(chunk[4 : 4 + n].decode())
                chunk = chunk[4 + n :]
            values[output["name"]] = items
        else:
            values[output["name"]] = np.frombuffer(chunk, dtype="<f8").tolist()
    return header, values


def test_binary_inputs_with_fp32_and_int32_and_binary_outputs_answer_as_json_does(client, served, rows):
    rows = [r for r in rows if all(v is not None for v in r.values())] or rows[:1]
    as_json = outputs_of(infer(client, {"inputs": v2_inputs(rows)}).json())
    inputs = v2_inputs(rows)
    for tensor in inputs:
        # As a numpy-minded client sends them: narrower types, converted where the column is numeric.
        tensor["datatype"] = {"FP64": "FP32", "INT64": "INT32"}.get(tensor["datatype"], tensor["datatype"])
    body, length = binary_request(inputs, {"binary_data_output": True})

    response = infer(client, body, **{"Inference-Header-Content-Length": length})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/octet-stream"
    header, values = read_binary(response)
    assert values == as_json
    assert len(header["parameters"]["prediction_ids"].split(",")) == len(rows)


def test_a_missing_float_in_binary_data_is_a_gap_and_a_required_column_names_it(client, served, rows):
    types = {c.name: c.type for c in holder().current.schema}
    numeric = next(n for n, t in types.items() if t == "double")
    rows[0][numeric] = None
    body, length = binary_request(v2_inputs(rows), {})
    response = infer(client, body, **{"Inference-Header-Content-Length": length})
    required = next(c.required for c in holder().current.schema if c.name == numeric)
    if required:
        assert response.status_code == 400
        assert numeric in response.json()["error"]
    else:
        assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda inputs: inputs.pop(0), "this column is missing"),
        (lambda inputs: inputs[0].update(shape=[3, 2]), "is not [n] or [n, 1]"),
        (lambda inputs: inputs[0].update(datatype="FP128"), "datatype 'FP128' is not one of"),
        (lambda inputs: inputs[0].update(datatype={}), "datatype {} is not one of"),
        (lambda inputs: inputs[0].update(parameters=[]), "parameters of input"),
        (lambda inputs: inputs[0].update(data=[1, 2]), "2 values, but its shape says 3"),
        (lambda inputs: inputs.append({**inputs[0], "name": "bill_lenght_mm"}), "bill_lenght_mm: unknown field"),
        (lambda inputs: next(i for i in inputs if i["name"] == "island").update(datatype="FP32"), "send BYTES"),
    ],
)
def test_a_bad_request_is_a_v2_error_naming_the_problem(client, served, rows, change, message):
    inputs = v2_inputs(rows)
    change(inputs)
    response = infer(client, {"inputs": inputs})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_an_unknown_model_or_version_is_refused_clearly(client, served, rows):
    body = {"inputs": v2_inputs(rows)}
    unknown = infer(client, body, path="/v2/models/nobody/infer")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == f"model 'nobody' is not served here: this server serves '{served.model_name}'"
    other = infer(client, body, path=f"/v2/models/{served.model_name}/versions/7/infer")
    assert other.status_code == 404
    assert "version 7" in other.json()["error"]
    assert "serves version 1" in other.json()["error"]
    assert infer(client, body, path=f"/v2/models/{served.model_name}/versions/1/infer").status_code == 200
    assert client.get("/v2/models/nobody").status_code == 404
    assert client.get(f"/v2/models/{served.model_name}/versions/7/ready").status_code == 404


def test_the_whole_record_is_accepted_and_its_id_and_excluded_columns_ignored(client, served, rows, penguin_versions):
    row = {"id": served.pk, "model_name": served.model_name, "run_id": served.run_id}
    holder().serve(replace(served_model(row, penguin_versions.first), ignored=frozenset({"band"})))
    plain = outputs_of(infer(client, {"inputs": v2_inputs(rows)}).json())
    whole = [{**r, "band": i} for i, r in enumerate(rows)]
    response = infer(client, {"inputs": v2_inputs(whole)})
    assert response.status_code == 200, response.content
    assert outputs_of(response.json()) == plain


def test_api_keys_are_asked_for_as_on_api_v1_predict(client, served, rows, keys_required):
    response = infer(client, {"inputs": v2_inputs(rows)})
    assert response.status_code == 401
    assert "API key is required" in response.json()["error"]
    assert client.get(f"/v2/models/{served.model_name}").status_code == 401


def test_a_regressor_answers_its_numbers(client, served_regressor):  # noqa: F811
    loaded, features = served_regressor
    rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in features.head(4).to_dict("records")]
    response = infer(client, {"inputs": v2_inputs(rows)})
    assert response.status_code == 200, response.content
    (output,) = response.json()["outputs"]
    assert output["name"] == "predictions"
    assert output["datatype"] == "FP64"
    assert np.array_equal(output["data"], loaded.model.predict(features.head(4)))
