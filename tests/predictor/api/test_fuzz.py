"""Nothing a client sends makes the prediction API fail with a 500."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COLUMNS = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["Biscoe", "Dream", "male", "female", ""]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
keys = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=6))
row = st.one_of(
    st.fixed_dictionaries({c: values for c in COLUMNS}),
    st.dictionaries(keys, values, max_size=8),
    values,
)
rows = st.lists(row, max_size=4)
bodies = st.one_of(
    st.fixed_dictionaries({"instances": rows}),
    st.fixed_dictionaries({"dataframe_records": rows}),
    st.fixed_dictionaries(
        {
            "dataframe_split": st.one_of(
                st.fixed_dictionaries(
                    {"columns": st.lists(keys, max_size=8), "data": st.lists(st.lists(values, max_size=8), max_size=4)}
                ),
                st.dictionaries(st.text(max_size=8), values, max_size=3),
                values,
            )
        }
    ),
    st.dictionaries(st.text(max_size=16), rows, max_size=3),
    values,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_no_body_makes_the_api_fail(client, served, body):
    response = client.post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code in {200, 400, 413}, response.content
    assert response["X-Model-Version"] == "1"
    assert "error" in response.json() or "predictions" in response.json()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_no_bytes_make_the_api_fail(client, served, raw, content_type):
    response = client.post("/api/v1/predict", raw, content_type=content_type)
    assert response.status_code in {400, 415}, response.content
