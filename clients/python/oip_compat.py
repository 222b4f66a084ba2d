#!/usr/bin/env python3
"""The model-server's Open Inference Protocol as Triton's Python client (tritonclient.grpc) uses it,
with stubs generated from the same protos: the calls tritonclient makes, built the way it builds
them (inputs in raw_input_contents, little-endian, BYTES with a 4-byte length before each element;
priority as uint64_param), and outputs decoded the way its InferResult.as_numpy decodes them (from
raw_output_contents, else bytes_contents, else nothing). tritonclient itself comes from PyPI and
numpy is not needed here; this mirrors its wire behaviour with python3-grpcio only. Prints one JSON
object per check (what the Java test asserts).

    clients/python/generate.sh /tmp/trellis-py && PYTHONPATH=/tmp/trellis-py \\
        clients/python/oip_compat.py --target localhost:8081 --model churn
"""
import argparse
import json
import struct
import sys

import grpc

from inference import grpc_service_pb2 as pb
from inference import grpc_service_pb2_grpc as pb_grpc

TIMEOUT = 30.0


def serialize(datatype, values):
    """tritonclient.utils: np_array.tobytes() (little-endian), serialize_byte_tensor for BYTES."""
    if datatype == "BYTES":
        out = b""
        for value in values:
            data = value.encode("utf-8")
            out += struct.pack("<I", len(data)) + data
        return out
    if datatype == "FP32":
        return struct.pack("<%df" % len(values), *values)
    raise ValueError("no serializer for " + datatype)


def as_list(response, name):
    """tritonclient.grpc.InferResult.as_numpy, without numpy: flat values and the shape."""
    for index, output in enumerate(response.outputs):
        if output.name != name:
            continue
        shape = list(output.shape)
        if index < len(response.raw_output_contents):
            raw = response.raw_output_contents[index]
            if output.datatype == "BYTES":
                values, at = [], 0
                while at < len(raw):
                    (length,) = struct.unpack_from("<I", raw, at)
                    values.append(raw[at + 4:at + 4 + length].decode("utf-8"))
                    at += 4 + length
            elif output.datatype == "FP32":
                values = list(struct.unpack("<%df" % (len(raw) // 4), raw))
            else:
                raise ValueError("unexpected datatype " + output.datatype)
        elif len(output.contents.bytes_contents) != 0:
            values = [b.decode("utf-8") for b in output.contents.bytes_contents]
        else:
            values = []  # np.empty(0): as_numpy then fails to reshape it
        count = 1
        for dim in shape:
            count *= dim
        if len(values) != count:
            raise ValueError("output %s: %d values cannot take the shape %s (as_numpy would fail)"
                             % (name, len(values), shape))
        return values, shape
    return None, None


def infer_request(model, inputs, outputs, priority=0):
    """tritonclient.grpc.InferenceServerClient.infer's request: raw contents, uint64 priority."""
    request = pb.ModelInferRequest(model_name=model, model_version="", id="compat-1")
    for name, datatype, shape, values in inputs:
        tensor = request.inputs.add(name=name, datatype=datatype)
        tensor.shape.extend(shape)
        request.raw_input_contents.append(serialize(datatype, values))
    for name in outputs:
        request.outputs.add(name=name)
    if priority:
        request.parameters["priority"].uint64_param = priority
    return request


def emit(check, **fields):
    print(json.dumps({"check": check, **fields}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="localhost:8081")
    parser.add_argument("--model", default="churn")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        emit("health",
             live=stub.ServerLive(pb.ServerLiveRequest(), timeout=TIMEOUT).live,
             ready=stub.ServerReady(pb.ServerReadyRequest(), timeout=TIMEOUT).ready,
             model_ready=stub.ModelReady(pb.ModelReadyRequest(name=args.model), timeout=TIMEOUT).ready)

        metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model), timeout=TIMEOUT)
        config = stub.ModelConfig(pb.ModelConfigRequest(name=args.model), timeout=TIMEOUT).config
        emit("metadata", inputs=[i.name for i in metadata.inputs], versions=list(metadata.versions),
             config_inputs=[i.name for i in config.input], config_outputs=[o.name for o in config.output],
             max_batch_size=config.max_batch_size)

        # two rows, in both layouts: one tensor per feature, and Triton FIL's one [batch, n] matrix
        rows = 2
        per_feature, matrix = [], []
        for feature in config.input:
            vocabulary = config.parameters.get("vocabulary:" + feature.name)
            if vocabulary is not None:
                categories = json.loads(vocabulary.string_value)
                chosen = [categories[0], categories[-1]]
                per_feature.append((feature.name, "BYTES", [rows], chosen))
                matrix.append([0.0, float(len(categories) - 1)])
            else:
                chosen = [1.0, 24.0]
                per_feature.append((feature.name, "FP32", [rows], chosen))
                matrix.append(chosen)
        flat = [matrix[column][row] for row in range(rows) for column in range(len(matrix))]

        response = stub.ModelInfer(
            infer_request(args.model, per_feature, ["score", "label"], priority=1), timeout=TIMEOUT)
        scores, score_shape = as_list(response, "score")
        labels, _ = as_list(response, "label")
        emit("infer_per_feature", scores=scores, shape=score_shape, labels=labels,
             outputs=[o.name for o in response.outputs], version=response.model_version)

        response = stub.ModelInfer(
            infer_request(args.model, [("input__0", "FP32", [rows, len(matrix)], flat)], []), timeout=TIMEOUT)
        matrix_scores, _ = as_list(response, "score")
        interval, interval_shape = as_list(response, "interval")
        emit("infer_matrix", scores=matrix_scores, interval_shape=interval_shape,
             outputs=[o.name for o in response.outputs])

        statistics = stub.ModelStatistics(pb.ModelStatisticsRequest(name=args.model), timeout=TIMEOUT)
        emit("statistics", inference_count=sum(s.inference_count for s in statistics.model_stats),
             success=sum(s.inference_stats.success.count for s in statistics.model_stats))

        try:
            stub.ModelInfer(infer_request("no_such_model", per_feature, []), timeout=TIMEOUT)
            emit("error", raised=False)
        except grpc.RpcError as error:
            # tritonclient raises InferenceServerException(status=str(code), msg=details())
            emit("error", raised=True, status=str(error.code()), message=error.details())
    return 0


if __name__ == "__main__":
    sys.exit(main())
