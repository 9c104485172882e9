"""Converters to ONNX.

* scikit-learn estimators and pipelines: skl2onnx, probabilities as a plain tensor (ZipMap off),
  float32 inputs (tree ensembles with double inputs do not load in onnxruntime); LightGBM and XGBoost
  wrappers alone or inside pipelines through onnxmltools converters registered into skl2onnx.
* native LightGBM / XGBoost Boosters: onnxmltools (target_opset <= 15).
* Keras and SavedModel: tf2onnx's SavedModel route (`tf_loader.from_saved_model` + `from_graph_def`).

The ONNX graph takes one input per original feature column, shaped [None, 1] (float32 for numbers,
string for text columns), like the CSV rows; outputs are `label` + `probabilities` [N, C] for
classifiers and `variable` [N, 1] for regressors (skl2onnx's names).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from workbench.core.converters.base import ConversionRequest, Converter, register_converter
from workbench.core.errors import BackendUnavailable, ConversionFailed
from workbench.core.tolerances import FLOAT32_ATOL
from workbench.core.types import ModelInfo

#: onnxmltools' LightGBM/XGBoost converters accept target_opset up to 15 only
ML_OPSET = 3
BOOSTER_OPSET = 15
DEFAULT_OPSET = 17

_LGBM = ("LGBMClassifier", "LGBMRegressor")
_XGB = ("XGBClassifier", "XGBRegressor")
_CONTAINERS = ("Pipeline", "ColumnTransformer", "FeatureUnion", "PMMLPipeline")


# --------------------------------------------------------------------------------------------------
# walking a scikit-learn object


def iter_components(obj: Any) -> list[Any]:
    """Every estimator/transformer object inside `obj` (pipeline steps, column transformers...)."""
    out = [obj]
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            if step not in (None, "passthrough", "drop"):
                out.extend(iter_components(step))
    transformers = getattr(obj, "transformers_", None) or getattr(obj, "transformer_list", None)
    if isinstance(transformers, list):
        for item in transformers:
            step = item[1] if isinstance(item, tuple) and len(item) >= 2 else None
            if step is not None and not isinstance(step, str):
                out.extend(iter_components(step))
    return out


def final_estimator(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps:
        return final_estimator(steps[-1][1])
    return obj


def is_classifier(obj: Any) -> bool:
    est = final_estimator(obj)
    return getattr(est, "_estimator_type", None) == "classifier" or hasattr(est, "classes_")


def has_boosters(obj: Any) -> bool:
    return any(type(c).__name__ in _LGBM + _XGB for c in iter_components(obj))


def has_trees(obj: Any) -> bool:
    names = ("Tree", "Forest", "Boosting", "LGBM", "XGB")
    return any(any(n in type(c).__name__ for n in names) for c in iter_components(obj))


def input_columns(info: ModelInfo, model: Any) -> list[tuple[str, str]]:
    """(column name, "string" | "float") for each original feature column, in order."""
    names = getattr(model, "feature_names_in_", None)
    specs = {s.name: s for s in info.inputs}
    if names is None and info.inputs:
        names = [s.name for s in info.inputs]
    if names is None:
        n = getattr(model, "n_features_in_", None) or getattr(final_estimator(model), "n_features_in_", None)
        if n is None:
            raise ConversionFailed("ONNX: the number of input features of the model is unknown")
        names = [f"x{i}" for i in range(int(n))]
    out = []
    for name in [str(n) for n in list(names)]:
        spec = specs.get(name)
        out.append((name, "string" if spec is not None and spec.dtype in ("string", "object") else "float"))
    return out


# --------------------------------------------------------------------------------------------------
# scikit-learn -> ONNX

_registered_boosters = False


def _register_booster_converters() -> None:
    """Teach skl2onnx the LightGBM/XGBoost sklearn wrappers (onnxmltools' converters)."""
    global _registered_boosters
    if _registered_boosters:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    cls_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes, convert_lightgbm,
                                    options=cls_options)
        update_registered_converter(LGBMRegressor, "LightGbmLGBMRegressor",
                                    calculate_linear_regressor_output_shapes, convert_lightgbm,
                                    options={"split": None})
    except ImportError:
        pass
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor

        update_registered_converter(XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes, convert_xgboost,
                                    options=cls_options)
        update_registered_converter(XGBRegressor, "XGBoostXGBRegressor",
                                    calculate_linear_regressor_output_shapes, convert_xgboost)
    except ImportError:
        pass
    _registered_boosters = True


_patched_tree_ensemble = False


def _patch_skl2onnx() -> None:
    """Work around skl2onnx 1.20 + onnx 1.23: HistGradientBoosting leaves pass a Python bool as
    `nodes_missing_value_tracks_true`, which onnx.helper now rejects ("Expected an int, got a boolean")."""
    global _patched_tree_ensemble
    if _patched_tree_ensemble:
        return
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        return original(*args, nodes_missing_value_tracks_true=int(bool(nodes_missing_value_tracks_true)),
                        **kwargs)

    tree_ensemble.add_node = add_node
    _patched_tree_ensemble = True


def _without_xgb_feature_names(model: Any) -> Any:
    """A copy of `model` whose XGBoost boosters have no feature names (onnxmltools wants f0, f1...)."""
    import copy

    if not any(type(c).__name__ in _XGB for c in iter_components(model)):
        return model
    clone = copy.deepcopy(model)
    for comp in iter_components(clone):
        if type(comp).__name__ in _XGB:
            booster = comp.get_booster()
            booster.feature_names = None
            booster.feature_types = None
    return clone


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _unsupported_components(model: Any) -> list[str]:
    from skl2onnx._supported_operators import sklearn_operator_name_map

    _register_booster_converters()
    missing = []
    for comp in iter_components(model):
        name = type(comp).__name__
        if name in _CONTAINERS or type(comp) in sklearn_operator_name_map:
            continue
        if name in ("FunctionTransformer",):
            missing.append(f"{name} (arbitrary Python code)")
        elif name not in missing:
            missing.append(name)
    return missing


def booster_refusal(model: Any, tool: str) -> str | None:
    """Why `tool` cannot convert a LightGBM/XGBoost model (or a wrapper/pipeline holding one), or None:
    LightGBM linear trees (a linear model in each leaf) and XGBoost categorical splits."""
    for comp in iter_components(model):
        name = type(comp).__name__
        module = type(comp).__module__
        if name in _LGBM or (name == "Booster" and module.startswith("lightgbm")):
            booster = comp.booster_ if hasattr(comp, "booster_") else comp
            try:
                params = dict(getattr(booster, "params", {}) or {})
                linear = str(params.get("linear_tree", "")).lower() in ("true", "1")
                if not linear and hasattr(booster, "model_to_string"):
                    linear = "\nis_linear=1" in booster.model_to_string(num_iteration=1)
            except Exception:  # noqa: BLE001 - cannot tell: let the converter try
                linear = False
            if linear:
                return f"linear trees are not supported by {tool} (LightGBM linear_tree=True puts a linear model in each leaf)"
            categorical = [str(c) for c in (getattr(booster, "pandas_categorical", None) and
                                            getattr(comp, "feature_names_in_", None) is not None and
                                            [n for n, t in zip(comp.feature_names_in_, _lgbm_dtypes(comp), strict=False)
                                             if t == "category"] or [])]
            if categorical and tool == "onnxmltools":
                return (f"onnxmltools cannot convert LightGBM categorical features ({', '.join(categorical[:5])}, pandas "
                        "category columns): its LightGBM converter takes one numeric input tensor, not the category "
                        "text; encode the categories as numbers before LightGBM, or convert to SavedModel")
        if name in _XGB or (name == "Booster" and module.startswith("xgboost")):
            booster = comp.get_booster() if hasattr(comp, "get_booster") else comp
            types = list(getattr(booster, "feature_types", None) or [])
            categorical = [str(n) for n, t in zip(getattr(booster, "feature_names", None) or
                                                  [f"f{i}" for i in range(len(types))], types, strict=False)
                           if t == "c"]
            if categorical:
                return (f"{tool} cannot convert XGBoost categorical splits (categorical feature(s) "
                        f"{', '.join(categorical[:5])}); one-hot encode them before XGBoost")
    return None


def _lgbm_dtypes(comp: Any) -> list[str]:
    """"category" for each input column LightGBM saw as a pandas category (its `pandas_categorical`)."""
    booster = comp.booster_ if hasattr(comp, "booster_") else comp
    cats = getattr(booster, "pandas_categorical", None) or []
    names = [str(n) for n in getattr(comp, "feature_names_in_", [])]
    params = getattr(comp, "_categorical_feature", None)
    if isinstance(params, list | tuple) and all(isinstance(p, str) for p in params):
        return ["category" if n in params else "number" for n in names]
    # LightGBM records one category list per pandas category column, in column order; the columns are the
    # ones whose dtype was category at fit time (not stored), so compare with the booster's own dump
    try:
        info = booster.dump_model(num_iteration=1).get("feature_infos", {})
        # a categorical feature lists its category codes in "values"; a numerical one has none
        return ["category" if isinstance(info.get(n), dict) and info[n].get("values") else "number"
                for n in names] if len(cats) else ["number"] * len(names)
    except Exception:  # noqa: BLE001
        return ["number"] * len(names)


def check_sklearn(info: ModelInfo, model: Any) -> str | None:
    """None when skl2onnx (with the LightGBM/XGBoost converters) can convert every part of `model`."""
    try:
        import skl2onnx  # noqa: F401
    except ImportError:
        return "ONNX: skl2onnx is not installed (pip install skl2onnx onnxmltools)"
    if not hasattr(model, "predict") and not hasattr(model, "transform"):
        return f"ONNX: {type(model).__name__} is not a scikit-learn estimator"
    missing = _unsupported_components(model)
    if missing:
        return f"ONNX: skl2onnx has no converter for {', '.join(missing)}"
    if has_boosters(model):
        try:
            import onnxmltools  # noqa: F401
        except ImportError:
            return "ONNX: LightGBM/XGBoost need onnxmltools (pip install onnxmltools)"
        refusal = booster_refusal(model, "onnxmltools")
        if refusal:
            return f"ONNX: {refusal}"
    return None


def _concat_columns(onx: Any, inner: str, columns: list[str]) -> Any:
    """Replace the single [None, n] input `inner` by n named [None, 1] float inputs + Concat."""
    from onnx import TensorProto, helper

    graph = onx.graph
    kept = [i for i in graph.input if i.name != inner]
    del graph.input[:]
    graph.input.extend([helper.make_tensor_value_info(c, TensorProto.FLOAT, [None, 1]) for c in columns]
                       + kept)
    graph.node.insert(0, helper.make_node("Concat", list(columns), [inner], axis=1, name="concat_columns"))
    if not any(op.domain in ("", "ai.onnx") for op in onx.opset_import):
        entry = onx.opset_import.add()
        entry.domain, entry.version = "", BOOSTER_OPSET
    return onx


def _inner_name(columns: list[str]) -> str:
    name = "features"
    while name in columns:
        name = "_" + name
    return name


def _set_metadata(onx: Any, info: ModelInfo, request: ConversionRequest, tool: str) -> None:
    import json

    onx.doc_string = f"converted by the Model Serving Workbench from {Path(info.path).name} ({tool})"
    props = {"workbench.source": Path(info.path).name, "workbench.converter": tool,
             "workbench.feature_names": json.dumps([s.name for s in info.inputs]), "workbench.task": info.task}
    if info.classes is not None:
        props["workbench.classes"] = json.dumps([str(c) for c in info.classes])
    for key, value in props.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value


def _save(onx: Any, path: Path) -> Path:
    import onnx

    try:
        onnx.checker.check_model(onx)
    except Exception as exc:  # a broken graph is a conversion failure, not a crash
        raise ConversionFailed(f"ONNX: the converted graph does not pass onnx.checker: {exc}") from exc
    path.write_bytes(onx.SerializeToString())
    return path


def convert_sklearn_model(request: ConversionRequest) -> Path:
    """skl2onnx conversion of a fitted estimator or pipeline into `request.output`."""
    from skl2onnx import __version__ as skl2onnx_version
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    model, info = request.model, request.info
    _register_booster_converters()
    _patch_skl2onnx()
    request.report(0.1, "preparing skl2onnx")
    columns = input_columns(info, model)
    model = _without_xgb_feature_names(model)
    boosters = has_boosters(model)
    opset = request.option("target_opset") or (BOOSTER_OPSET if boosters else DEFAULT_OPSET)
    target_opset = {"": int(opset), "ai.onnx.ml": ML_OPSET}
    options: dict[Any, Any] = {}
    for comp in iter_components(model):
        is_classifier_like = getattr(comp, "_estimator_type", None) == "classifier" or hasattr(comp, "predict_proba")
        if is_classifier_like and hasattr(comp, "classes_"):
            options[id(comp)] = {"zipmap": False}
    text = any(kind == "string" for _, kind in columns)
    named = getattr(model, "feature_names_in_", None) is not None
    request.check_cancelled()
    request.report(0.3, "converting with skl2onnx")
    try:
        if text or (named and _first_is_column_transformer(model)):
            initial = [(name, StringTensorType([None, 1]) if kind == "string" else FloatTensorType([None, 1]))
                       for name, kind in columns]
            onx = convert_sklearn(model, initial_types=initial, options=options, target_opset=target_opset)
        else:
            inner = _inner_name([c for c, _ in columns])
            onx = convert_sklearn(model, initial_types=[(inner, FloatTensorType([None, len(columns)]))],
                                  options=options, target_opset=target_opset)
            onx = _concat_columns(onx, inner, [c for c, _ in columns])
    except Exception as exc:
        raise ConversionFailed(f"ONNX: skl2onnx failed on {type(model).__name__}: "
                               f"{type(exc).__name__}: {_short(exc)}", details=repr(exc)) from exc
    tool = f"skl2onnx {skl2onnx_version}"
    if boosters:
        import onnxmltools

        tool += f" + onnxmltools {onnxmltools.__version__}"
    _route_missing_values(onx, model, request)
    float32 = True
    if not text:
        onx, float32 = _maybe_double_trees(onx, request, [c for c, _ in columns])
    _set_metadata(onx, info, request, tool)
    request.notes.update({"float32": float32, "tool": tool, "opset": int(opset)})
    request.report(0.8, "checking the ONNX graph")
    return _save(onx, request.output)


def _route_missing_values(onx: Any, model: Any, request: ConversionRequest) -> None:
    """scikit-learn trees send NaN to `missing_go_to_left`; skl2onnx writes no routing (NaN -> false
    branch): set it per node (onnx_missing.py). Notes say what was done or why not."""
    from workbench.core.converters.onnx_missing import NotRouted, route_missing_values

    try:
        done = route_missing_values(onx, model)
    except NotRouted as exc:
        request.notes["missing_values_routed"] = False
        request.notes["missing_values_reason"] = (f"NaN routing of the scikit-learn trees not written: {exc}; "
                                                  "rows with missing values may be scored differently")
        return
    if done:
        request.notes["missing_values_routed"] = True
        request.notes["missing_values_reason"] = (
            f"NaN routing of {done['trees']} scikit-learn tree(s) written (nodes_missing_value_tracks_true from "
            f"missing_go_to_left: {done['nodes_routed_left']} split(s) send NaN left)")


def _float32_rows_differ(onx: Any, model: Any, rows: Any, columns: list[str]) -> list[int]:
    """0-based indexes of the sample rows on which the float32 graph differs from the model (label, or
    a probability/value beyond FLOAT32_ATOL)."""
    import numpy as np
    import onnxruntime as ort
    import pandas as pd

    if rows is None or any(c not in rows.columns for c in columns) or not len(rows):
        return []
    data = rows.loc[:, columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {c: data[c].to_numpy(np.float32).reshape(-1, 1) for c in columns}
    out = session.run(None, feeds)
    X = data if getattr(model, "feature_names_in_", None) is not None else data.to_numpy()
    if hasattr(model, "predict_proba") and getattr(model, "classes_", None) is not None:
        ref = np.asarray(model.predict_proba(X), np.float64)
        got = np.asarray(out[1], np.float64).reshape(len(data), -1)
        flips = np.asarray(model.predict(X)).reshape(-1) != np.asarray(out[0]).reshape(-1)
    else:
        ref = np.asarray(model.predict(X), np.float64).reshape(len(data), -1)
        got = np.asarray(out[0], np.float64).reshape(len(data), -1)
        flips = np.zeros(len(data), dtype=bool)
    if ref.shape != got.shape:
        return []
    diff = np.nan_to_num(np.abs(ref - got), nan=np.inf).max(axis=1)
    return [int(i) for i in np.flatnonzero((diff > FLOAT32_ATOL) | flips)]


def _maybe_double_trees(onx: Any, request: ConversionRequest, columns: list[str]) -> tuple[Any, bool]:
    """Option `double_trees`: True rewrites the tree node to ai.onnx.ml opset-5 TreeEnsemble with the
    model's float64 thresholds (double inputs); "auto" does so only when the model compares in float64
    and the float32 graph scores some sample rows differently; False never. Returns (graph, float32)."""
    from workbench.core.converters.onnx_double import NotRewritable, compares_in_float64, to_double_trees

    wanted = request.option("double_trees", "auto")
    model = request.model
    if wanted is False or wanted in ("false", "no", "off", "0"):
        return onx, True
    forced = wanted is True or wanted in ("true", "yes", "on", "1")
    if not forced and not compares_in_float64(model):
        return onx, True
    try:
        double = to_double_trees(onx, model)
    except NotRewritable as exc:
        request.notes["double_trees"] = False
        request.notes["double_trees_reason"] = f"float64 trees not possible: {exc}"
        if forced:
            raise ConversionFailed(f"ONNX: --option double_trees: {exc}") from None
        return onx, True
    if not forced:
        try:
            differ = _float32_rows_differ(onx, model, request.rows, columns)
        except Exception as exc:  # noqa: BLE001 - the check is advice; the proof decides
            differ = []
            request.notes["double_trees_check_error"] = f"{type(exc).__name__}: {_short(exc)}"
        if not differ:
            request.notes["double_trees"] = False
            request.notes["double_trees_reason"] = ("float32 thresholds kept: the float32 graph scores every "
                                                    "sample row like the model (option double_trees=true "
                                                    "forces float64)")
            return onx, True
        shown = ", ".join(str(r + 1) for r in differ[:10]) + (" ..." if len(differ) > 10 else "")
        request.notes["double_trees_reason"] = (f"float32 thresholds would score {len(differ)} sample row(s) "
                                                f"differently (rows {shown}): written with float64 thresholds")
    else:
        request.notes["double_trees_reason"] = "float64 thresholds requested (option double_trees=true)"
    request.notes["double_trees"] = True
    request.notes["ml_opset"] = 5
    return double, False


def _first_is_column_transformer(model: Any) -> bool:
    steps = getattr(model, "steps", None)
    first = steps[0][1] if isinstance(steps, list) and steps else model
    return type(first).__name__ == "ColumnTransformer"


# --------------------------------------------------------------------------------------------------
# native LightGBM / XGBoost Booster -> ONNX


def _booster_n_features(model: Any) -> int:
    for attr in ("num_feature", "num_features"):
        fn = getattr(model, attr, None)
        if callable(fn):
            return int(fn())
    n = getattr(model, "n_features_in_", None)
    if n is None:
        raise ConversionFailed("ONNX: the number of input features of the Booster is unknown")
    return int(n)


def check_booster(info: ModelInfo, model: Any) -> str | None:
    try:
        import onnxmltools  # noqa: F401
    except ImportError:
        return "ONNX: onnxmltools is not installed (pip install onnxmltools)"
    refusal = booster_refusal(model, "onnxmltools")
    return f"ONNX: {refusal}" if refusal else None


def convert_booster(request: ConversionRequest) -> Path:
    """onnxmltools conversion of a native LightGBM or XGBoost Booster."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model, info = request.model, request.info
    columns = [s.name for s in info.inputs] or [f"x{i}" for i in range(_booster_n_features(model))]
    inner = _inner_name(columns)
    opset = min(int(request.option("target_opset") or BOOSTER_OPSET), BOOSTER_OPSET)
    initial = [(inner, FloatTensorType([None, len(columns)]))]
    request.report(0.3, "converting with onnxmltools")
    try:
        if info.format == "lightgbm":
            onx = onnxmltools.convert_lightgbm(model, initial_types=initial, target_opset=opset, zipmap=False)
        else:
            booster = model.copy() if hasattr(model, "copy") else model
            booster.feature_names = None  # onnxmltools only reads f0, f1, ...
            booster.feature_types = None
            onx = onnxmltools.convert_xgboost(booster, initial_types=initial, target_opset=opset)
    except Exception as exc:
        raise ConversionFailed(f"ONNX: onnxmltools failed on the {info.format} Booster: "
                               f"{type(exc).__name__}: {_short(exc)}", details=repr(exc)) from exc
    onx = _concat_columns(onx, inner, columns)
    tool = f"onnxmltools {onnxmltools.__version__}"
    _set_metadata(onx, info, request, tool)
    request.notes.update({"float32": True, "tool": tool, "opset": opset})
    return _save(onx, request.output)


# --------------------------------------------------------------------------------------------------
# Keras / SavedModel -> ONNX (tf2onnx's SavedModel route: works with Keras 3)


def check_tensorflow(info: ModelInfo, model: Any) -> str | None:
    import importlib.util

    for package in ("tensorflow", "tf2onnx"):
        if importlib.util.find_spec(package) is None:
            return f"ONNX: {package} is not installed (pip install 'model-serving-workbench[tf]')"
    text = [s.name for s in info.inputs if s.dtype in ("string", "object")]
    if text:
        return (f"ONNX: string input(s) {', '.join(text)}: tf2onnx turns the model's string lookups into a Cast "
                "from string that onnxruntime cannot run (it fails when the graph is loaded); convert the "
                "original model (e.g. the scikit-learn pipeline) instead")
    return None


def savedmodel_to_onnx(saved_model_dir: Path, output: Path, opset: int = DEFAULT_OPSET) -> Any:
    """tf2onnx conversion of the `serving_default` signature of a SavedModel; returns the ModelProto."""
    try:
        import tf2onnx
        from tf2onnx import tf_loader
    except ImportError as exc:
        raise BackendUnavailable("ONNX: tf2onnx is not installed (pip install tf2onnx)") from exc
    try:
        graph_def, inputs, outputs, rename = tf_loader.from_saved_model(
            str(saved_model_dir), None, None, tag="serve", signatures=["serving_default"],
            return_tensors_to_rename=True)
        onx, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs,
                                                opset=opset, tensors_to_rename=rename)
    except Exception as exc:
        raise ConversionFailed(f"ONNX: tf2onnx failed: {type(exc).__name__}: {_short(exc)}", details=repr(exc)) from exc
    return onx


def convert_tensorflow(request: ConversionRequest) -> Path:
    """Keras (exported to a temporary SavedModel first) or SavedModel -> ONNX with tf2onnx."""
    import tf2onnx

    info = request.info
    opset = int(request.option("target_opset") or DEFAULT_OPSET)
    with tempfile.TemporaryDirectory(prefix="wb-keras-export-") as tmp:
        if info.format == "keras":
            model = request.model
            if model is None:
                import keras

                model = keras.models.load_model(request.source)
            request.report(0.2, "exporting the Keras model to a SavedModel")
            export_dir = Path(tmp) / "saved_model"
            try:
                model.export(str(export_dir), format="tf_saved_model", verbose=False)
            except TypeError:
                model.export(str(export_dir))
            source_dir = export_dir
        else:
            source_dir = _savedmodel_dir(request.source)
        request.check_cancelled()
        request.report(0.5, "converting with tf2onnx")
        onx = savedmodel_to_onnx(source_dir, request.output, opset)
    tool = f"tf2onnx {tf2onnx.__version__}"
    _set_metadata(onx, info, request, tool)
    request.notes.update({"float32": True, "tool": tool, "opset": opset})
    return _save(onx, request.output)


def _savedmodel_dir(path: Path) -> Path:
    """A SavedModel folder, or the highest numeric version folder of a TF Serving base folder."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path
    from workbench.core.formats.savedmodel import is_version_name

    versions = sorted((int(p.name), p) for p in path.iterdir() if is_version_name(p.name) and p.is_dir()
                      and (p / "saved_model.pb").exists())
    if not versions:
        raise ConversionFailed(f"ONNX: no saved_model.pb in {path} or its version folders")
    return versions[-1][1]


# --------------------------------------------------------------------------------------------------

register_converter(Converter(
    key="sklearn-onnx", target="onnx", sources=("sklearn",),
    title="scikit-learn -> ONNX (skl2onnx, onnxmltools for LightGBM/XGBoost)",
    check=check_sklearn, convert=convert_sklearn_model, output_format="onnx",
    options={"target_opset": None, "double_trees": "auto"}, tool="skl2onnx"))

register_converter(Converter(
    key="booster-onnx", target="onnx", sources=("lightgbm", "xgboost"),
    title="LightGBM/XGBoost Booster -> ONNX (onnxmltools)",
    check=check_booster, convert=convert_booster, output_format="onnx",
    options={"target_opset": BOOSTER_OPSET}, tool="onnxmltools"))

register_converter(Converter(
    key="tf-onnx", target="onnx", sources=("keras", "savedmodel"),
    title="Keras/SavedModel -> ONNX (tf2onnx, SavedModel route)",
    check=check_tensorflow, convert=convert_tensorflow, output_format="onnx",
    options={"target_opset": DEFAULT_OPSET}, needs_model=False, tool="tf2onnx"))
