"""Talks to a running msg-cls with NVIDIA's tritonclient (the Open Inference Protocol's HTTP client),
unchanged: server and model health, model metadata, inference with JSON and with binary tensors,
requested outputs, an explicit version and the protocol's errors. Prints one JSON line of what it
saw; exits non-zero on the first check that fails. Usage: tritonclient_check.py HOST:PORT MODEL"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, model = sys.argv[1], sys.argv[2]
client = httpclient.InferenceServerClient(url=url)
seen = {}

assert client.is_server_live(), "server not live"
assert client.is_server_ready(), "server not ready"
assert client.is_model_ready(model), "model not ready"
meta = client.get_model_metadata(model)
seen["metadata"] = meta
assert meta["name"] == model, meta
assert meta["inputs"][0]["datatype"] == "BYTES", meta
server = client.get_server_metadata()
seen["server"] = server

texts = ["WINNER!! Claim your free prize now, call 0800 123 456", "are we still on for lunch tomorrow?"]


def infer(binary, shape, outputs=None, version=""):
    inp = httpclient.InferInput("text", shape, "BYTES")
    inp.set_data_from_numpy(np.array(texts, dtype=object).reshape(shape), binary_data=binary)
    requested = None
    if outputs is not None:
        requested = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in outputs]
    return client.infer(model, [inp], model_version=version, outputs=requested, request_id="req-1")


results = {}
for binary in (False, True):
    for shape in ([2], [2, 1]):
        r = infer(binary, shape, outputs=["label", "probabilities"])
        labels = [x.decode() if isinstance(x, bytes) else x for x in r.as_numpy("label").reshape(-1)]
        probs = r.as_numpy("probabilities")
        assert probs.shape == (2, len(meta["outputs"][1]["parameters"]["labels"].split(","))), probs.shape
        assert probs.dtype == np.float32, probs.dtype
        assert np.allclose(probs.sum(axis=1), 1, atol=1e-5), probs
        results[f"binary={binary} shape={shape}"] = {"labels": labels, "probabilities": probs.tolist()}
        resp = r.get_response()
        assert resp["id"] == "req-1", resp
        assert resp["parameters"]["model_role"] in ("champion", "challenger"), resp

# No outputs requested: tritonclient asks for every output in binary.
r = infer(True, [2])
assert r.as_numpy("label") is not None and r.as_numpy("probabilities") is not None
# Only one output requested.
r = infer(False, [2], outputs=["label"])
assert r.as_numpy("probabilities") is None
# An explicit version.
version = meta["versions"][0]
r = infer(False, [2], outputs=["label"], version=version)
assert r.get_response()["model_version"] == version

errors = {}
for name, call in {
    "unknown_model": lambda: client.get_model_metadata("no_such_model"),
    "unknown_version": lambda: infer(False, [2], version="999"),
    "unknown_output": lambda: infer(False, [2], outputs=["label", "nope"]),
}.items():
    try:
        call()
    except InferenceServerException as e:
        errors[name] = {"status": e.status(), "message": e.message()}
    else:
        raise AssertionError(f"{name}: no error")
inp = httpclient.InferInput("text", [2], "FP32")
inp.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32), binary_data=False)
try:
    client.infer(model, [inp])
except InferenceServerException as e:
    errors["wrong_datatype"] = {"status": e.status(), "message": e.message()}

print(json.dumps({"results": results, "errors": errors, "server": server, "metadata": meta}))
