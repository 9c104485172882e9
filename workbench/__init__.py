"""Model Serving Workbench: inspect, convert, run, probe and benchmark trained models."""

import os

__version__ = "0.1.0"

# TensorFlow and gRPC print INFO/WARNING banners from C++ on import (oneDNN, CPU features, absl);
# users asked for a model's result, not those. Set before any lazy import; users can override.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
