"""Run every converter on every model kind and write the conversion matrix `docs/conversions.md`.

    python scripts/conversion_matrix.py                    # all kinds, targets onnx pmml savedmodel
    python scripts/conversion_matrix.py --targets onnx     # only some targets
    python scripts/conversion_matrix.py --kinds logreg rf  # only some kinds
    python scripts/conversion_matrix.py --out docs/conversions.md --json docs/conversions.json

Models are trained here on scikit-learn's bundled datasets (iris, breast cancer, diabetes: no
download), seeded; the CTR pipeline and the Keras MLP are the committed samples. Each model is saved
into a temporary folder with 30 held-out rows, then `workbench.core.conversion.convert_and_prove`
converts it and proves parity (the held-out rows plus rows placed on the tree split thresholds).
Cells: `pass <max abs diff>`, `pass* <diff> (k explained)` when rows differing only because a value
sits on a float32 split threshold were explained, `FAIL <diff>`, or `n/a` with the reason.

The module is importable: tests use `model_kinds()`, `build_kind()` and `run_cell()`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SAMPLES = REPO / "sample_models"
SEED = 0
N_ROWS = 30
TARGETS = ("onnx", "pmml", "savedmodel")


@dataclass(frozen=True)
class Kind:
    """One model kind of the matrix."""

    key: str
    title: str
    dataset: str  # iris | cancer | diabetes | sample | mleap:<build_mleap spark case>
    make: Callable[[], Any] | None = None
    sample: str | None = None  # committed sample file or folder (CTR pipeline, Keras MLP, Boosters)
    sample_rows: str | None = None
    #: not a scikit-learn-API model: a native Booster file or a TensorFlow model
    native: bool = False
    needs_tf: bool = False


def _dataset(name: str) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

    if name in ("iris_unsupervised", "iris_nan"):
        X, y = _dataset("iris")
        return X, (None if name == "iris_unsupervised" else y)
    if name == "cancer_on_thresholds":
        return _dataset("cancer")
    if name == "categorical":
        rng = np.random.default_rng(SEED)
        n = 400
        X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "c": pd.Categorical(rng.choice(["x", "y", "z"], n))})
        return X, ((X["a"] + (X["c"] == "y")) > 0.3).astype(int)

    loader = {"iris": load_iris, "cancer": load_breast_cancer, "diabetes": load_diabetes}[name]
    X, y = loader(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: "_".join(str(c).replace("(cm)", "").split()))
    if name == "cancer":  # a readable subset of the 30 columns keeps PMML/ONNX small
        X = X[["mean_radius", "mean_texture", "mean_smoothness", "mean_concave_points", "worst_area",
               "worst_concavity"]]
    return X, y


def model_kinds() -> list[Kind]:
    """Every model kind of the done-when list of issue 4."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    def lgbm_c() -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=30, num_leaves=8, random_state=SEED, verbose=-1)

    def lgbm_r() -> Any:
        from lightgbm import LGBMRegressor

        return LGBMRegressor(n_estimators=30, num_leaves=8, random_state=SEED, verbose=-1)

    def xgb_c() -> Any:
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=30, max_depth=3, random_state=SEED)

    def xgb_r() -> Any:
        from xgboost import XGBRegressor

        return XGBRegressor(n_estimators=30, max_depth=3, random_state=SEED)

    def svc() -> Any:
        from sklearn.svm import SVC

        return SVC(probability=True, random_state=SEED)

    def knn() -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=5)

    def iforest() -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=30, random_state=SEED)

    def kmeans() -> Any:
        from sklearn.cluster import KMeans

        return make_pipeline(StandardScaler(), KMeans(n_clusters=3, n_init=3, random_state=SEED))

    def ocsvm() -> Any:
        from sklearn.svm import OneClassSVM

        return make_pipeline(StandardScaler(), OneClassSVM())

    def lgbm_cat() -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=20, num_leaves=8, random_state=SEED, verbose=-1)

    def xgb_cat() -> Any:
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist",
                             random_state=SEED)

    def lgbm_linear() -> Any:
        from lightgbm import LGBMRegressor

        return LGBMRegressor(n_estimators=20, num_leaves=8, linear_tree=True, random_state=SEED, verbose=-1)

    return [
        Kind("logreg", "LogisticRegression", "iris", lambda: LogisticRegression(max_iter=1000)),
        Kind("ctr_pipeline", "CTR pipeline (ColumnTransformer OneHot+Scaler+LR, string columns)", "sample",
             sample="ctr_pipeline.joblib", sample_rows="ctr_pipeline.rows.csv"),
        Kind("decision_tree", "DecisionTreeClassifier", "iris",
             lambda: DecisionTreeClassifier(max_depth=4, random_state=SEED)),
        Kind("random_forest", "RandomForestClassifier", "iris",
             lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=SEED)),
        Kind("extra_trees", "ExtraTreesClassifier", "iris",
             lambda: ExtraTreesClassifier(n_estimators=20, max_depth=5, random_state=SEED)),
        Kind("gb_classifier", "GradientBoostingClassifier", "cancer",
             lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=SEED)),
        Kind("gb_regressor", "GradientBoostingRegressor", "diabetes",
             lambda: GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=SEED)),
        Kind("hist_gb", "HistGradientBoostingClassifier", "cancer",
             lambda: HistGradientBoostingClassifier(max_iter=30, random_state=SEED)),
        Kind("mlp", "MLPClassifier (StandardScaler + MLP pipeline)", "iris",
             lambda: make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000,
                                                                   random_state=SEED))),
        Kind("linear_regression", "LinearRegression", "diabetes", LinearRegression),
        Kind("ridge", "Ridge", "diabetes", Ridge),
        Kind("lgbm_classifier", "LGBMClassifier", "cancer", lgbm_c),
        Kind("lgbm_regressor", "LGBMRegressor", "diabetes", lgbm_r),
        Kind("xgb_classifier", "XGBClassifier", "iris", xgb_c),
        Kind("xgb_regressor", "XGBRegressor", "diabetes", xgb_r),
        Kind("lgbm_booster", "LightGBM Booster (native .txt sample)", "sample", sample="lgbm_classifier.txt",
             sample_rows="lgbm_classifier_native.rows.csv", native=True),
        Kind("xgb_booster", "XGBoost Booster (native .json sample)", "sample", sample="xgb_classifier.json",
             sample_rows="xgb_classifier_native.rows.csv", native=True),
        Kind("svc_proba", "SVC(probability=True)", "iris", svc),
        Kind("knn", "KNeighborsClassifier", "iris", knn),
        Kind("hist_gb_real_thresholds", "HistGradientBoostingClassifier, held-out rows + real rows on split "
             "thresholds", "cancer_on_thresholds", lambda: HistGradientBoostingClassifier(max_iter=30, random_state=SEED)),
        Kind("isolation_forest", "IsolationForest", "iris_unsupervised", iforest),
        Kind("kmeans", "KMeans (StandardScaler + KMeans pipeline)", "iris_unsupervised", kmeans),
        Kind("one_class_svm", "OneClassSVM (StandardScaler + OneClassSVM pipeline)", "iris_unsupervised", ocsvm),
        Kind("lgbm_categorical", "LGBMClassifier with a pandas categorical column", "categorical", lgbm_cat),
        Kind("xgb_categorical", "XGBClassifier with enable_categorical", "categorical", xgb_cat),
        Kind("lgbm_linear", "LGBMRegressor(linear_tree=True)", "diabetes", lgbm_linear),
        Kind("trees_nan_rows", "RandomForestClassifier, rows with missing values (NaN)", "iris_nan",
             lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=SEED)),
        Kind("keras_mlp", "Keras MLP (sample)", "sample", sample="keras_mlp.keras",
             sample_rows="keras_mlp.rows.csv", native=True, needs_tf=True),
        Kind("keras_savedmodel", "Keras MLP as a SavedModel folder (sample)", "sample",
             sample="keras_mlp_savedmodel", sample_rows="keras_mlp_savedmodel.rows.csv", native=True,
             needs_tf=True),
        # MLeap Bundle.ML (issue 16): the committed mleap.sklearn sample and Spark-style bundles written by
        # sample_models/build_mleap.py; the reference is the mleap runtime (the format's own scorer)
        Kind("mleap_iris", "MLeap bundle: iris StandardScaler + multinomial LogisticRegression (mleap.sklearn "
             "sample)", "sample", sample="mleap_iris_pipeline.zip", sample_rows="mleap_iris_pipeline.rows.csv",
             native=True),
        Kind("mleap_random_forest", "MLeap bundle (Spark-style): string_indexer + one_hot + RandomForestClassifier",
             "mleap:random_forest_classifier", native=True),
        Kind("mleap_gbt", "MLeap bundle (Spark-style): string_indexer + one_hot + GBTClassifier", "mleap:gbt_classifier",
             native=True),
        Kind("mleap_linear_onehot", "MLeap bundle (Spark-style): string_indexer + one_hot + LinearRegression",
             "mleap:linear_regression", native=True),
    ]


def _mleap_case(name: str, folder: Path) -> tuple[Path, Path]:
    """A Spark-style bundle of sample_models/build_mleap.py (JSON, zipped) and its rows."""
    import importlib.util

    module_name = "sample_models_build_mleap"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SAMPLES / "build_mleap.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    bm = sys.modules[module_name]
    (folder / f"mleap_{name}").mkdir(parents=True, exist_ok=True)
    case = bm.spark_bundles(folder / f"mleap_{name}", "json")[name]
    rows_path = folder / f"mleap_{name}.rows.csv"
    rows_path.write_text(bm.case_rows_csv(case))
    return case.path, rows_path


def build_kind(kind: Kind, folder: Path) -> tuple[Path, Path]:
    """Write the model of `kind` and its rows CSV into `folder`; returns (model path, rows path)."""
    import joblib
    from sklearn.model_selection import train_test_split

    folder.mkdir(parents=True, exist_ok=True)
    if kind.sample is not None:
        model_path = folder / kind.sample
        if (SAMPLES / kind.sample).is_dir():
            shutil.copytree(SAMPLES / kind.sample, model_path, dirs_exist_ok=True)
        else:
            shutil.copy2(SAMPLES / kind.sample, model_path)
        rows_path = folder / f"{kind.key}.rows.csv"
        shutil.copy2(SAMPLES / (kind.sample_rows or ""), rows_path)
        return model_path, rows_path
    if kind.dataset.startswith("mleap:"):
        return _mleap_case(kind.dataset.split(":", 1)[1], folder)
    X, y = _dataset(kind.dataset)
    if y is None:
        X_train, X_test = train_test_split(X, test_size=N_ROWS, random_state=SEED)
        y_train = None
    else:
        X_train, X_test, y_train, _ = train_test_split(X, y, test_size=N_ROWS, random_state=SEED)
    assert kind.make is not None
    model = kind.make()
    model.fit(X_train, y_train) if y is not None else model.fit(X_train)
    model_path = folder / f"{kind.key}.joblib"
    joblib.dump(model, model_path)
    rows_path = folder / f"{kind.key}.rows.csv"
    if kind.dataset == "cancer_on_thresholds":  # real rows whose value is the float32 rounding of a threshold
        import numpy as np
        import pandas as pd

        from workbench.core.converters.thresholds import split_thresholds

        thresholds, _ = split_thresholds(model)
        extra = []
        for f, values in sorted(thresholds.items()):
            for t in values[:3]:
                if float(np.float32(t)) != t:
                    row = X_test.median().copy()
                    row.iloc[f] = float(np.float32(t))
                    extra.append(row)
        X_test = pd.concat([X_test, pd.DataFrame(extra)], ignore_index=True)
    if kind.dataset == "iris_nan":  # every other row misses one value
        X_test = X_test.reset_index(drop=True).astype("float64")
        for i in range(0, len(X_test), 2):
            X_test.iat[i, (i // 2) % X_test.shape[1]] = float("nan")
    X_test.to_csv(rows_path, index=False, float_format="%.17g")
    return model_path, rows_path


@dataclass
class Cell:
    kind: str
    target: str
    status: str  # pass | pass* | FAIL | n/a | error
    max_abs_diff: float | None = None
    label_agreement: float | None = None
    explained: int = 0
    unexplained_diff: float | None = None
    rows: int = 0
    reason: str = ""
    seconds: float = 0.0
    compared: list[str] | None = None
    not_compared: dict[str, str] | None = None
    real_rows_differ: list[int] | None = None
    notes: str = ""
    missing_rows_differ: list[int] | None = None
    missing_reason: str = ""

    def text(self) -> str:
        return self._core() + self._scope()

    def _scope(self) -> str:
        """Which outputs the verdict covers, what it could not compare, the user's rows scored differently."""
        if self.status not in ("pass", "pass*", "FAIL"):
            return ""
        parts = []
        if self.compared:
            parts.append("on " + ", ".join(self.compared))
        for name, why in (self.not_compared or {}).items():
            parts.append(f"**{name} not compared**: {why}")
        if self.real_rows_differ:
            parts.append(f"**{len(self.real_rows_differ)} real row(s) scored differently** (float32 split threshold)")
        if self.missing_rows_differ:
            why = self.missing_reason.split(": ", 1)[1] if ": " in self.missing_reason else self.missing_reason
            parts.append(f"**{len(self.missing_rows_differ)} real row(s) with missing values (NaN) scored "
                         f"differently** ({why})")
        if self.notes:
            parts.append(self.notes)
        return f" ({'; '.join(parts)})" if parts else ""

    def _core(self) -> str:
        diff = f" {self.max_abs_diff:.1e}" if self.max_abs_diff is not None else " (no numeric output)"
        if self.status == "pass":
            return f"pass{diff}"
        if self.status == "pass*":
            rest = f" {self.unexplained_diff:.1e}" if self.unexplained_diff is not None else ""
            return f"pass*{rest} ({self.explained} rows on a threshold explained, up to{diff.strip() and diff})"
        if self.status == "FAIL":
            agree = f", labels {self.label_agreement:.3f}" if self.label_agreement is not None else ""
            return f"**FAIL**{diff}{agree}"
        return f"{self.status}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_cell(kind: Kind, model_path: Path, rows_path: Path, target: str, out_dir: Path) -> Cell:
    """Convert one model to one target and prove it; never raises."""
    from workbench.core.conversion import convert_and_prove
    from workbench.core.errors import WorkbenchError

    suffix = {"onnx": ".onnx", "pmml": ".pmml", "savedmodel": ""}[target]
    out = out_dir / f"{kind.key}.{target}{suffix}"
    started = time.perf_counter()
    try:
        result = convert_and_prove(model_path, target, out, rows=rows_path, trust=True, force=True)
    except WorkbenchError as exc:
        return Cell(kind.key, target, "n/a", reason=" ".join(str(exc).split())[:200],
                    seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - the matrix records every failure
        return Cell(kind.key, target, "error", reason=f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
                    seconds=time.perf_counter() - started)
    parity = result.parity or {}
    explained = len(result.explained_rows)
    status = ("pass*" if explained else "pass") if result.passed else "FAIL"
    notes = ""
    if result.notes.get("double_trees"):
        notes = "float64 trees (ai.onnx.ml opset 5 TreeEnsemble): float32 would score real rows differently"
    if result.notes.get("missing_values_routed") and parity.get("missing_value_rows"):
        notes = (f"{parity['missing_value_rows']} rows with NaN, routed like scikit-learn's missing_go_to_left"
                 + (f"; {notes}" if notes else ""))
    return Cell(kind.key, target, status, parity.get("max_abs_diff"), parity.get("label_agreement"), explained,
                parity.get("max_abs_diff_unexplained"), int(parity.get("rows") or 0), seconds=result.seconds,
                compared=parity.get("compared_outputs"), not_compared=parity.get("not_compared"),
                real_rows_differ=parity.get("sample_rows_scored_differently"), notes=notes,
                missing_rows_differ=parity.get("missing_value_rows_scored_differently"),
                missing_reason=parity.get("missing_value_reason") or "")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("scikit-learn", "skl2onnx", "onnxmltools", "onnxruntime", "sklearn2pmml", "jpmml_evaluator",
                "lightgbm", "xgboost-cpu", "tensorflow-cpu", "keras", "tf2onnx"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def render(kinds: list[Kind], targets: list[str], cells: dict[tuple[str, str], Cell], seconds: float) -> str:
    lines = [
        "# Conversion matrix",
        "",
        "Generated by `python scripts/conversion_matrix.py` (do not edit by hand). Each cell converts the",
        "model with `workbench convert` machinery and proves it: the original (native runtime) and the",
        "converted model (onnxruntime, JPMML, TensorFlow) predict 30 held-out rows plus rows placed on the",
        "tree split thresholds; the number is the largest absolute difference of probabilities (classifiers)",
        "or values (regressors). Tolerance: 1e-5, or 1e-4 when the converted model computes in float32 (ONNX",
        "tree ensembles, XGBoost/LightGBM). `pass* a (k ... explained, up to b)`: k rows differ only because a",
        "feature value sits on a split threshold where float32 rounding sends it the other way (the parity",
        "report explains each one); `a` is the largest difference over all other rows, `b` over all rows.",
        "In brackets: the outputs the verdict covers (`on label, probabilities`; anomaly models: `predict`",
        "and `decision_function`; clustering: cluster id and distances), every output of the original that",
        "could not be compared and why, and rows of the user's data (not generated rows) that the converted",
        "model scores differently: on a float32 split threshold, or with missing values (NaN; never explained",
        "as a threshold flip). A verdict covers only what it compared.",
        "",
        "| model kind | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for kind in kinds:
        row = [cells[(kind.key, t)].text() if (kind.key, t) in cells else "" for t in targets]
        lines.append(f"| {kind.title} | " + " | ".join(c.replace("|", "/") for c in row) + " |")
    lines += ["", f"Ran in {seconds:.0f} s on {platform.machine()} with "
              + ", ".join(f"{k} {v}" for k, v in _versions().items()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--kinds", nargs="*", help="only these kind keys")
    parser.add_argument("--out", default=str(REPO / "docs" / "conversions.md"))
    parser.add_argument("--json", help="also write the cells as JSON here")
    args = parser.parse_args(argv)

    kinds = [k for k in model_kinds() if not args.kinds or k.key in args.kinds]
    started = time.perf_counter()
    cells: dict[tuple[str, str], Cell] = {}
    with tempfile.TemporaryDirectory(prefix="wb-matrix-") as tmp:
        work = Path(tmp)
        for kind in kinds:
            model_path, rows_path = build_kind(kind, work / "models")
            for target in args.targets:
                cell = run_cell(kind, model_path, rows_path, target, work / "out")
                cells[(kind.key, target)] = cell
                print(f"{kind.key:<18} {target:<10} {cell.text()}  ({cell.seconds:.1f} s)", flush=True)
    seconds = time.perf_counter() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(kinds, list(args.targets), cells, seconds))
    print(f"wrote {out} in {seconds:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([c.to_json() for c in cells.values()], indent=1))
    failed = [c for c in cells.values() if c.status in ("FAIL", "error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
