"""TensorFlow Serving's official Python client (tensorflow-serving-api) against a gRPC server.

    python tfserving_client.py PORT MODEL INPUT.json [VERSION]

INPUT.json: {"shape": [...], "values": [...]}. Prints one JSON object: the outputs of Predict with
tensor_content (tf.make_tensor_proto) and with float_val, the metadata's input and output shapes,
the model's status, and the status codes of bad calls. With VERSION, every call names that
version in model_spec.version, and the versions answering are printed too.
"""
import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

port, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
version = int(sys.argv[4]) if len(sys.argv) > 4 else None
# Generous: under `swift test` the server's handlers share two cores with the other suites.
DEADLINE = 600
with open(path) as f:
    given = json.load(f)
x = np.array(given["values"], dtype=np.float32).reshape(given["shape"])

channel = grpc.insecure_channel(f"127.0.0.1:{port}")
predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
models = model_service_pb2_grpc.ModelServiceStub(channel)
out = {}


def spec(request):
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    return request


answered = []
request = spec(predict_pb2.PredictRequest())
request.model_spec.signature_name = "serving_default"
request.inputs["input"].CopyFrom(tf.make_tensor_proto(x))
out["encoding_sent"] = "tensor_content" if request.inputs["input"].tensor_content else "float_val"
response = predictions.Predict(request, timeout=DEADLINE)
answered.append(response.model_spec.version.value)
out["tensor_content"] = tf.make_ndarray(response.outputs["output"]).ravel().tolist()
out["output_shape"] = list(tf.make_ndarray(response.outputs["output"]).shape)

request = spec(predict_pb2.PredictRequest())
tensor = request.inputs["input"]
tensor.dtype = tf.float32.as_datatype_enum
for size in x.shape:
    tensor.tensor_shape.dim.add(size=size)
tensor.float_val.extend(x.ravel().tolist())
response = predictions.Predict(request, timeout=DEADLINE)
answered.append(response.model_spec.version.value)
out["float_val"] = list(response.outputs["output"].float_val)

request = spec(get_model_metadata_pb2.GetModelMetadataRequest())
request.metadata_field.append("signature_def")
metadata = predictions.GetModelMetadata(request, timeout=DEADLINE)
answered.append(metadata.model_spec.version.value)
out["versions_answering"] = answered
signatures = get_model_metadata_pb2.SignatureDefMap()
metadata.metadata["signature_def"].Unpack(signatures)
signature = signatures.signature_def["serving_default"]
out["input_shape"] = [d.size for d in signature.inputs["input"].tensor_shape.dim]
out["output_shape_metadata"] = [d.size for d in signature.outputs["output"].tensor_shape.dim]

request = spec(get_model_status_pb2.GetModelStatusRequest())
status = models.GetModelStatus(request, timeout=DEADLINE)
out["status_versions"] = [s.version for s in status.model_version_status]
out["state"] = get_model_status_pb2.ModelVersionStatus.State.Name(status.model_version_status[0].state)

errors = {}
request = predict_pb2.PredictRequest()
request.model_spec.name = "no-such-model"
request.inputs["input"].CopyFrom(tf.make_tensor_proto(x))
try:
    predictions.Predict(request, timeout=DEADLINE)
except grpc.RpcError as error:
    errors["unknown_model"] = error.code().name
request = spec(predict_pb2.PredictRequest())
request.inputs["input"].CopyFrom(tf.make_tensor_proto(x[..., :0] if x.ndim > 1 else x[:0]))
try:
    predictions.Predict(request, timeout=DEADLINE)
except grpc.RpcError as error:
    errors["bad_shape"] = error.code().name
if version is not None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.version.value = 999
    request.inputs["input"].CopyFrom(tf.make_tensor_proto(x))
    try:
        predictions.Predict(request, timeout=DEADLINE)
    except grpc.RpcError as error:
        errors["unknown_version"] = error.code().name
out["errors"] = errors
print(json.dumps(out))
