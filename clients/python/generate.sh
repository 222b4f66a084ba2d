#!/usr/bin/env bash
# Generates the Python stubs of the Trellis API from the same .proto files the Java build uses:
# trellis.v1 (Scoring, Experiments), the model-server's Open Inference Protocol (inference.*) and
# the google.rpc error details (Status, BadRequest, ErrorInfo), plus the typed wrapper
# trellis_client.py.
#
#   clients/python/generate.sh OUT_DIR [GOOGLE_RPC_PROTO_DIR]
#
# Messages come from the build's own protoc (proto/target/protoc-plugins, or $PROTOC): Debian's
# python3-grpc-tools bundles protoc 3.5, which predates proto3 `optional`. The service stubs come
# from python3-grpc-tools' gRPC plugin, fed the descriptors the new protoc wrote. Run
# `mvn -pl proto compile` first; GOOGLE_RPC_PROTO_DIR (google/rpc/*.proto) defaults to the copy
# that build unpacks (proto/target/protoc-dependencies).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:?usage: generate.sh OUT_DIR [GOOGLE_RPC_PROTO_DIR]}"
rpc="${2:-}"
if [ -z "$rpc" ]; then
  for candidate in "$root"/proto/target/protoc-dependencies/*; do
    if [ -f "$candidate/google/rpc/error_details.proto" ]; then rpc="$candidate"; break; fi
  done
fi
if [ -z "$rpc" ] || [ ! -f "$rpc/google/rpc/error_details.proto" ]; then
  echo "error: no google/rpc/error_details.proto; build the proto module first (mvn -pl proto compile)" >&2
  exit 2
fi
protoc="${PROTOC:-}"
if [ -z "$protoc" ]; then
  for candidate in "$root"/proto/target/protoc-plugins/protoc-*.exe; do
    if [ -x "$candidate" ]; then protoc="$candidate"; break; fi
  done
fi
if [ -z "$protoc" ]; then
  echo "error: no protoc; build the proto module first (mvn -pl proto compile) or set PROTOC" >&2
  exit 2
fi
python="${PYTHON:-/usr/bin/python3}"
# the well-known types (google/protobuf/struct.proto, ...) as grpc_tools ships them
wkt="$("$python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
mkdir -p "$out"
"$protoc" -I "$root/proto/src/main/proto" -I "$rpc" -I "$wkt" \
  --python_out="$out" --include_imports --descriptor_set_out="$out/trellis.binpb" \
  trellis/v1/scoring.proto trellis/v1/experiments.proto \
  inference/grpc_service.proto inference/model_config.proto \
  google/rpc/status.proto google/rpc/error_details.proto
# grpc_tools.protoc's own main adds an -I, which protoc refuses next to --descriptor_set_in
"$python" -c 'import sys; from grpc_tools import protoc; sys.exit(protoc.main(["protoc"] + sys.argv[1:]))' \
  --descriptor_set_in="$out/trellis.binpb" --grpc_python_out="$out" \
  trellis/v1/scoring.proto trellis/v1/experiments.proto inference/grpc_service.proto
rm "$out/trellis.binpb"
cp "$here/trellis_client.py" "$out/"
echo "generated into $out"
