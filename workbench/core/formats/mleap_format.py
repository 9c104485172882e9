"""Format `mleap`: an MLeap Bundle.ML (Spark / scikit-learn pipelines serialized by MLeap), as a zip or a
folder. Detected by content: `bundle.json` plus `root/model.json` (or `root/model.pb`), never by the file's
name. Inspection reads the bundle with workbench.core.mleap.bundle (no code runs) and describes the pipeline
stages in order, the input fields (categories from string indexers, vector sizes from vector assemblers and
one-hot encoders), the outputs (prediction, probability, raw prediction), the task and the classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.formats.base import ModelFormat, Probe
from workbench.core.formats.common import file_facts
from workbench.core.mleap.bundle import bundle_path, read_bundle
from workbench.core.mleap.model import MleapBundle, MleapNode
from workbench.core.types import ModelInfo, TensorSpec, Task, feature_count

CLASSIFIERS = ("logistic_regression", "decision_tree_classifier", "random_forest_classifier", "gbt_classifier",
               "naive_bayes", "linear_svc", "svm", "multi_layer_perceptron_classifier", "one_vs_rest",
               "xgboost.classifier", "lightgbm.classifier")
REGRESSORS = ("linear_regression", "decision_tree_regression", "random_forest_regression", "gbt_regression",
              "generalized_linear_regression", "isotonic_regression", "aft_survival_regression",
              "xgboost.regression", "lightgbm.regression")
#: how MLeap names the model outputs (port -> our role)
OUTPUT_PORTS = ("prediction", "probability", "raw_prediction")
_REVERSE_INDEXERS = ("reverse_string_indexer", "index_to_string")


def match(probe: Probe) -> bool:
    names = set(probe.names)
    for prefix in _prefixes(names, probe.is_dir):
        if f"{prefix}bundle.json" in names and (f"{prefix}root/model.json" in names or f"{prefix}root/model.pb" in names):
            return True
    return False


def _prefixes(names: set[str], is_dir: bool) -> list[str]:
    """'' and, for a zip of the bundle's folder, its one top folder ('model/')."""
    out = [""]
    if not is_dir:
        tops = {n.split("/", 1)[0] + "/" for n in names if n.count("/") >= 1 and n.endswith("/bundle.json")
                and n.count("/") == 1}
        if len(tops) == 1:
            out.extend(tops)
    return out


def _labels(node: MleapNode, index: int = 0) -> list[Any] | None:
    attrs = node.attributes
    labels = attrs.get(f"labels_array_{index}")
    if labels is None and index == 0:
        labels = attrs.get("labels")
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    return list(labels) if isinstance(labels, list) else None


def _port_index(port: str) -> int:
    digits = "".join(ch for ch in port if ch.isdigit())
    return int(digits) if digits else 0


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating) and float(value).is_integer() and value >= 0:
        return int(value)
    return None


def _vector_sizes(bundle: MleapBundle) -> dict[str, int]:
    """The width of each vector field the pipeline makes, where the bundle says it."""
    sizes: dict[str, int] = {}
    for node in bundle.nodes:
        attrs = node.attributes
        if node.op == "one_hot_encoder":
            category_sizes = attrs.get("category_sizes")
            drop_last = bool(attrs.get("drop_last", True))
            for port in node.outputs:
                k = _port_index(port.port)
                size = None
                if isinstance(category_sizes, list | np.ndarray) and k < len(category_sizes):
                    size = _int(category_sizes[k])
                elif _int(attrs.get("size")) is not None:
                    size = _int(attrs.get("size"))
                if size is not None:
                    keep_invalid = attrs.get("handle_invalid") == "keep"  # an extra slot for unseen categories
                    sizes[port.name] = size + (1 if keep_invalid else 0) - (1 if drop_last else 0)
        elif node.op == "vector_assembler":
            total = 0
            shapes = attrs.get("input_shapes")
            for i, port in enumerate(node.inputs):
                shape = shapes[i] if isinstance(shapes, list) and i < len(shapes) else None
                if isinstance(shape, dict) and shape.get("base") == "tensor" and shape.get("tensor_shape"):
                    total += int(np.prod(shape["tensor_shape"]))
                elif port.name in sizes:
                    total += sizes[port.name]
                elif isinstance(shape, dict) and shape.get("base") == "scalar":
                    total += 1
                else:
                    total = -1
                    break
            if total >= 0:
                for port in node.outputs:
                    sizes[port.name] = total
        elif node.op in ("polynomial_expansion", "sklearn_polynomial_expansion"):
            continue
        elif node.op in ("standard_scaler", "min_max_scaler", "max_abs_scaler"):
            widths = [np.size(v) for k, v in attrs.items() if k in ("mean", "std", "min", "max", "max_abs")
                      and isinstance(v, np.ndarray) and v.ndim == 1]
            if widths:
                for port in node.inputs + node.outputs:
                    sizes.setdefault(port.name, widths[0])
        else:
            num = _int(attrs.get("num_features"))
            if num is not None:
                for port in node.inputs:
                    if port.port == "features":
                        sizes.setdefault(port.name, num)
    return sizes


def _input_specs(bundle: MleapBundle, sizes: dict[str, int]) -> list[TensorSpec]:
    produced: set[str] = set()
    specs: dict[str, TensorSpec] = {}
    for node in bundle.nodes:
        shapes = node.attributes.get("input_shapes")
        for i, port in enumerate(node.inputs):
            field = port.name
            if field in produced or field in specs:
                continue
            if node.op == "string_indexer":
                labels = _labels(node, _port_index(port.port) if port.port != "input" else 0)
                invalid = node.attributes.get("handle_invalid", "error")
                specs[field] = TensorSpec(field, "string", (None,), categories=tuple(labels) if labels else None,
                                          accepts_missing=invalid in ("keep", "skip"),
                                          description=f"string_indexer {node.name} (handle_invalid={invalid})")
                continue
            shape = shapes[i] if isinstance(shapes, list) and i < len(shapes) else None
            if isinstance(shape, dict) and shape.get("base") == "tensor" and shape.get("tensor_shape"):
                width = int(np.prod(shape["tensor_shape"]))
                specs[field] = TensorSpec(field, "float64", (None, width), description=f"vector input of {node.op}")
            elif field in sizes and port.port in ("features", "input") and node.op != "string_indexer" \
                    and not (isinstance(shape, dict) and shape.get("base") == "scalar"):
                specs[field] = TensorSpec(field, "float64", (None, sizes[field]), description=f"vector input of {node.op}")
            else:
                specs[field] = TensorSpec(field, "float64", (None,),
                                          accepts_missing=node.op == "imputer", description=f"input of {node.op}")
        produced.update(p.name for p in node.outputs)
    return list(specs.values())


def _model_node(bundle: MleapBundle) -> MleapNode | None:
    models = [n for n in bundle.nodes if n.op in CLASSIFIERS + REGRESSORS or n.output("prediction")]
    return models[-1] if models else None


def _task_and_classes(bundle: MleapBundle, model: MleapNode | None) -> tuple[Task, list[Any] | None]:
    if model is None:
        return "other", None
    if model.op in REGRESSORS:
        return "regression", None
    if model.op not in CLASSIFIERS and not model.output("probability"):
        return "other", None
    prediction = model.output("prediction")
    for node in bundle.nodes:  # a reverse string indexer turning the prediction into the labels
        if node.op in _REVERSE_INDEXERS and prediction and node.inputs and node.inputs[0].name == prediction:
            labels = _labels(node)
            if labels:
                return "classification", labels
    count = _int(model.attributes.get("num_classes"))
    if count is None and model.op == "gbt_classifier":
        count = 2
    if count is None and model.op == "logistic_regression" and "coefficients" in model.attributes:
        count = 2
    return "classification", list(range(count)) if count else None


def _output_specs(bundle: MleapBundle, model: MleapNode | None, classes: list[Any] | None) -> list[TensorSpec]:
    outputs: list[TensorSpec] = []
    width = len(classes) if classes else None
    if model is not None:
        for port in model.outputs:
            if port.port == "prediction":
                outputs.append(TensorSpec(port.name, "float64", (None,), description="prediction"))
            elif port.port in ("probability", "raw_prediction"):
                outputs.append(TensorSpec(port.name, "float64", (None, width), description=port.port))
            elif port.port == "leaf_prediction":
                outputs.append(TensorSpec(port.name, "float64", (None, None), description=port.port))
    for node in bundle.nodes:
        if node.op in _REVERSE_INDEXERS and model is not None and node.inputs \
                and node.inputs[0].name == model.output("prediction"):
            for port in node.outputs:
                outputs.append(TensorSpec(port.name, "string", (None,), categories=tuple(classes) if classes else None,
                                          description="predicted label"))
    if not outputs and bundle.nodes:
        last = bundle.nodes[-1]
        outputs = [TensorSpec(p.name, "float64", (None, None), description=f"output of {last.op}") for p in last.outputs]
    return outputs


def _describe(node: MleapNode) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": node.name, "op": node.op,
                             "inputs": [{"port": p.port, "name": p.name} for p in node.inputs],
                             "outputs": [{"port": p.port, "name": p.name} for p in node.outputs]}
    if node.children:
        entry["trees"] = len(node.children)
    for key in ("num_features", "num_classes", "handle_invalid", "drop_last", "degree", "threshold", "strategy"):
        value = node.attributes.get(key)
        if isinstance(value, bool | int | float | str) and not isinstance(value, np.ndarray):
            entry[key] = value
    return entry


def describe_bundle(bundle: MleapBundle, path: Path) -> ModelInfo:
    sizes = _vector_sizes(bundle)
    model = _model_node(bundle)
    task, classes = _task_and_classes(bundle, model)
    inputs = _input_specs(bundle, sizes)
    outputs = _output_specs(bundle, model, classes)
    header = bundle.header
    metadata: dict[str, Any] = {
        "estimator": model.op if model is not None else (bundle.nodes[-1].op if bundle.nodes else None),
        "mleap_version": bundle.mleap_version or None, "serialization": bundle.serialization,
        "bundle_name": bundle.name, "uid": header.get("uid"), "timestamp": header.get("timestamp"),
        "ops": [n.op for n in bundle.nodes], "nodes": [_describe(n) for n in bundle.nodes],
        "feature_count": feature_count(inputs),
        "steps": [{"name": n.name, "class": n.op} for n in bundle.nodes],
    }
    metadata.update(file_facts(path))
    warnings: list[str] = []
    if model is None:
        warnings.append("no model stage (nothing writes a prediction): the bundle only transforms features")
    return ModelInfo(path=str(path), format="mleap", framework="mleap", framework_version=bundle.mleap_version or None,
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata,
                     warnings=warnings, loaded=True)


def inspect(path: Path, trust: bool) -> ModelInfo:
    target = bundle_path(path)
    return describe_bundle(read_bundle(target), target)


def load(path: Path, trust: bool) -> MleapBundle:
    return read_bundle(bundle_path(path))


FORMAT = ModelFormat(name="mleap", title="MLeap bundle", extensions=(".zip",), match=match, inspect=inspect,
                     load=load, priority=25, frameworks=("mleap", "spark"))
