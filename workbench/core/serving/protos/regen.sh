#!/usr/bin/env bash
# Regenerate tfserving_pb2.py and oip_pb2.py from tfserving.proto and oip.proto. Needs grpcio-tools (a build-time tool only; it is not
# a runtime dependency): e.g. `python3 -m venv /tmp/gt && /tmp/gt/bin/pip install grpcio-tools==1.85.1`
# then `PYTHON=/tmp/gt/bin/python ./regen.sh`. The generated module must import with protobuf==7.36.2.
# No *_pb2_grpc.py is generated: the service paths are the real TF Serving ones
# (/tensorflow.serving.PredictionService/...), spelled out in workbench/core/serving/grpc_client.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
cd "$here"
"$PY" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. tfserving.proto oip.proto
echo "generated $(ls *_pb2.py *_pb2.pyi)"
