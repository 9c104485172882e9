"""MLeap bundles to ONNX, PMML and SavedModel: one converter per target, source kind ``mleap``.

The bundle's nodes (`workbench.core.mleap.model.MleapNode`, as the reader decodes them) are first
turned into a `plan.Plan` (input columns, the model's feature vector as per-element float64
expressions, one model head); each target module emits that plan. An op, attribute or shape a target
cannot express is refused before anything is written, with the node, its op and the target named
(`plan.Unsupported`). The proof (`workbench.core.conversion`) then runs the bundle in the `mleap`
runtime and the converted model in its own runtime on the same rows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from workbench.core.converters.base import ConversionRequest, Converter, register_converter
from workbench.core.types import ModelInfo

TITLES = {"onnx": "ONNX", "pmml": "PMML", "savedmodel": "SavedModel"}


def bundle_of(info: ModelInfo, model: Any) -> Any:
    """The MleapBundle: the loaded model when it is one, else read from the source path."""
    from workbench.core.mleap.model import MleapBundle

    if isinstance(model, MleapBundle):
        return model
    if model is not None and hasattr(model, "nodes"):
        return model
    from workbench.core.mleap.bundle import read_bundle  # the reader (workbench.core.mleap.bundle)

    return read_bundle(Path(info.path))


def plan_for(target: str, bundle: Any) -> Any:
    """The plan of `bundle` for `target`, or `Unsupported` naming the op and the target."""
    from workbench.core.converters.from_mleap.plan import Unsupported, make_plan

    plan = make_plan(bundle, TITLES[target])
    if plan.head.kind == "xgboost" and target == "pmml":
        from workbench.core.converters.from_mleap.plan import xgboost_trees_head

        # PMML: the booster's trees as PMML trees (thresholds made exact for float64 inputs)
        plan.head = xgboost_trees_head(plan.head, f"PMML: the {plan.head.op} node")
    if target == "pmml":
        from workbench.core.converters.from_mleap.to_pmml import check_pmml

        why = check_pmml(plan)
        if why:
            raise Unsupported(why)
    return plan


def check_nodes(target: str, nodes: Any) -> str | None:
    """None when `nodes` (a bundle or a sequence of MleapNode) convert to `target`, else the reason."""
    from workbench.core.converters.from_mleap.plan import Unsupported

    if target == "savedmodel" and importlib.util.find_spec("tensorflow") is None:
        return "SavedModel: needs TensorFlow, which is not installed (pip install 'model-serving-workbench[tf]')"
    try:
        plan_for(target, nodes)
    except Unsupported as exc:
        return str(exc)
    return None


def _checker(target: str) -> Any:
    def check(info: ModelInfo, model: Any) -> str | None:
        return check_nodes(target, bundle_of(info, model))
    return check


def convert_nodes(target: str, nodes: Any, out: Path, description: str = "") -> Path:
    """Write `nodes` (a bundle or a sequence of MleapNode) as `target` at `out`."""
    from workbench.core.converters.from_mleap.plan import Unsupported

    try:
        plan = plan_for(target, nodes)
    except Unsupported as exc:
        from workbench.core.errors import ConversionFailed

        raise ConversionFailed(str(exc)) from None
    if target == "onnx":
        from workbench.core.converters.from_mleap.to_onnx import write_onnx

        return write_onnx(plan, out)
    if target == "pmml":
        from workbench.core.converters.from_mleap.to_pmml import write_pmml

        return write_pmml(plan, out, description)
    from workbench.core.converters.from_mleap.to_savedmodel import write_savedmodel

    return write_savedmodel(plan, out, f"MLeap {plan.head.op}")


def _converter(target: str) -> Any:
    def convert(request: ConversionRequest) -> Path:
        request.report(0.1, "reading the MLeap bundle")
        bundle = bundle_of(request.info, request.model)
        request.check_cancelled()
        request.report(0.3, f"writing {TITLES[target]}")
        out = convert_nodes(target, bundle, request.output, f"MLeap bundle {Path(request.source).name}")
        request.notes["float32"] = False  # every target computes in float64
        request.notes["tool"] = "workbench from_mleap"
        return out
    return convert


_TOOLS = {"onnx": "onnx.helper (ai.onnx.ml LabelEncoder, opset 5 TreeEnsemble), float64",
          "pmml": "xml.etree PMML 4.4", "savedmodel": "the workbench SavedModel compiler's pieces (TF ops)"}

for _target in ("onnx", "pmml", "savedmodel"):
    register_converter(Converter(
        key=f"mleap-{_target}", target=_target, sources=("mleap",),
        title=f"MLeap bundle -> {TITLES[_target]}", check=_checker(_target), convert=_converter(_target),
        output_format=_target, output_is_dir=_target == "savedmodel", needs_model=False, tool=_TOOLS[_target]))
