"""Run by test_v2_clients.py in the clients' own virtualenv (tests/predictor/api/requirements-clients.txt),
never imported by the product: tritonclient's HTTP client and the KServe SDK's REST client, each with
its defaults, against a live server.

Reads {"url", "model", "columns": {name: datatype}, "rows": [...], "headers": {...}} on stdin and
prints what each client got, as JSON.
"""

import asyncio
import json
import sys

import numpy as np
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

NUMPY = {"BYTES": object, "FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BOOL": bool}


def arrays(spec):
    for name, datatype in spec["columns"].items():
        values = [np.nan if v is None else v for v in (row[name] for row in spec["rows"])]
        yield name, datatype, np.array(values, dtype=NUMPY[datatype])


def with_triton(spec):
    client = triton.InferenceServerClient(spec["url"].removeprefix("http://"))
    headers = spec["headers"]
    inputs = []
    for name, datatype, values in arrays(spec):
        tensor = triton.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values)  # binary_data=True, the default
        inputs.append(tensor)
    # A copy: tritonclient writes its Inference-Header-Content-Length into the dict it is given.
    result = client.infer(spec["model"], inputs, headers=dict(headers))
    response = result.get_response()
    return {
        "live": client.is_server_live(headers=headers),
        "ready": client.is_server_ready(headers=headers),
        "model_ready": client.is_model_ready(spec["model"], headers=headers),
        "metadata": client.get_model_metadata(spec["model"], headers=headers),
        "outputs": {o["name"]: plain(result.as_numpy(o["name"])) for o in response["outputs"]},
        "binary": all("binary_data_size" in o.get("parameters", {}) for o in response["outputs"]),
        "parameters": response["parameters"],
    }


async def with_kserve(spec):
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    headers = spec["headers"]
    inputs = []
    for name, datatype, values in arrays(spec):
        tensor = InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values)  # binary_data=True, the default
        inputs.append(tensor)
    request = InferRequest(spec["model"], inputs)
    try:
        result = await client.infer(spec["url"], request, model_name=spec["model"], headers=dict(headers))
        return {
            "live": await client.is_server_live(spec["url"], headers=headers),
            "ready": await client.is_server_ready(spec["url"], headers=headers),
            "model_ready": await client.is_model_ready(spec["url"], spec["model"], headers=headers),
            "outputs": {o.name: plain(o.as_numpy()) for o in result.outputs},
            "parameters": result.parameters,
        }
    finally:
        await client.close()


def plain(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]


if __name__ == "__main__":
    spec = json.load(sys.stdin)
    json.dump({"triton": with_triton(spec), "kserve": asyncio.run(with_kserve(spec))}, sys.stdout)
