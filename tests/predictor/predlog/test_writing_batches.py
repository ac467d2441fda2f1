"""Large requests in the prediction log: every row of a batch logged as answered, inputs encoded a column at a time
exactly as one JSON object per row would be."""

import json
import uuid

import numpy as np
import orjson
import pytest
from django.db.models import Sum

from predictor.models import HourPredictions, HourVolume, Prediction
from predictor.predlog import encoding
from predictor.predlog.ids import in_sample, new_ids, sampled
from tests.support.predlog import PREDICT


def test_a_request_of_a_thousand_rows_logs_each_row_with_its_inputs_answer_and_id(client, served, rows, prediction_log):
    rng = np.random.default_rng(3)
    sent = []
    for i in range(1000):
        row = dict(rows[i % len(rows)])
        row["bill_length_mm"] = None if i % 97 == 0 else round(float(rng.normal(44, 5)), 1)
        row["body_mass_g"] = float(rng.integers(2700, 6300))
        sent.append(row)
    response = client.post(PREDICT, json.dumps({"instances": sent}), content_type="application/json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert prediction_log.flush(timeout=30)

    logged = {str(p.id): p for p in Prediction.objects.all()}
    assert len(logged) == 1000
    assert set(logged) == set(answer["prediction_ids"])
    for i, pid in enumerate(answer["prediction_ids"]):
        assert logged[pid].inputs == sent[i]
        assert logged[pid].prediction == answer["predictions"][i]
        assert logged[pid].probabilities == answer["probabilities"][i]
        assert logged[pid].model_version == "1"
    assert HourVolume.objects.filter(version="1").aggregate(n=Sum("logged"))["n"] == 1000
    counted = dict(HourPredictions.objects.filter(version="1").values_list("predicted", "count"))
    assert counted == {c: answer["predictions"].count(c) for c in set(answer["predictions"])}


def one_object_per_row(columns: dict[str, np.ndarray]) -> list[str]:
    """What the log stores for each row: its values by column name as one JSON object, NaN as null."""
    names = list(columns)
    values = zip(*(columns[name].tolist() for name in names), strict=True)
    return [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in values]


@pytest.mark.parametrize("count", [0, 1, 7])
def test_inputs_encoded_a_column_at_a_time_are_each_rows_own_json_object(count):
    rng = np.random.default_rng(count)
    text = np.array([None, "a,b", '"q"', "back\\slash", "50%", "%s", "é\n", "[1,2]"] * count, dtype=object)[:count]
    columns = {
        "number": np.where(rng.random(count) < 0.3, np.nan, rng.normal(0, 1e6, count)),
        "tiny": rng.normal(0, 1e-9, count),
        "whole": rng.integers(-5, 5, count),
        "small whole": rng.integers(0, 9, count).astype(np.int32),
        "flag": rng.random(count) < 0.5,
        "single": rng.normal(size=count).astype(np.float32),
        "text": text,
        'odd "name", 100%': rng.normal(size=count),
    }
    assert encoding.inputs(columns, count) == one_object_per_row(columns)
    assert [json.loads(t) for t in encoding.inputs({"x": np.array([1.5, np.nan])}, 2)] == [{"x": 1.5}, {"x": None}]


def test_rows_of_a_model_without_input_columns_are_empty_objects():
    assert encoding.inputs({}, 2) == ["{}", "{}"]


def test_logged_ids_are_the_uuids_clients_received(client, served, rows, prediction_log):
    response = client.post(PREDICT, json.dumps({"instances": rows * 400}), content_type="application/json")
    assert prediction_log.flush(timeout=30)
    ids = [uuid.UUID(i) for i in response.json()["prediction_ids"]]
    assert sorted(Prediction.objects.values_list("id", flat=True)) == sorted(ids)


@pytest.mark.parametrize("share", [0.0, 0.01, 0.3, 0.999, 1.0])
def test_a_batch_keeps_exactly_the_ids_each_id_would_keep_alone(share):
    ids = new_ids(5000)
    ids[7] = ids[7].upper()
    assert sampled(ids, share) == [i for i, pid in enumerate(ids) if in_sample(pid, share)]
    # Ids of another shape (a client's own UUID without dashes) are decided one at a time, as before.
    odd = [uuid.uuid4().hex for _ in range(50)] + ids[:50]
    assert sampled(odd, share) == [i for i, pid in enumerate(odd) if in_sample(pid, share)]
