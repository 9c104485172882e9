"""The parity tolerances: one source for compare, conversion proofs, the CLI's defaults and the app.

Cheap to import (no numpy, no pandas): the CLI reads them while it builds its parser.
"""

from __future__ import annotations

#: absolute tolerance when both sides compute in float64
DEFAULT_ATOL = 1e-5
#: relative tolerance
DEFAULT_RTOL = 1e-4
#: absolute tolerance when the converted side computes in float32 (ONNX tree ensembles, TF float32 graphs)
FLOAT32_ATOL = 1e-4
