"""Talking to model servers: TF Serving (REST 8501 / gRPC 8500), KServe v1 and the v2 Open Inference
Protocol (MLServer, Triton, KServe v2). No TensorFlow needed: the gRPC messages come from the project's own
.proto subset (protos/tfserving.proto).

Modules: `rest` and `grpc_client` (TF Serving clients), `v2` (v2 REST client), `detect` (which protocol a
URL speaks), `request_builder` (signature + rows -> checked request body + curl), `diagnosis` (every failure
as kind / server message / hint), `probe` (all of it for `workbench probe` and the GUI).
"""
