"""MLeap Bundle.ML: read a bundle (zip or folder, JSON or protobuf), score it with numpy, convert it.

- `bundle.py`: the data model every part shares (`MleapBundle`, `MleapNode`) and `read_bundle`.
- `ops/`: the native scorer, one module per MLeap op, registered by op name (`ops.OPS`).
- The `mleap` format (workbench/core/formats/mleap_format.py), the `mleap` runtime
  (workbench/core/runtimes/mleap.py) and the conversions (workbench/core/converters/from_mleap/) build on them.
"""
