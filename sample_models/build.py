"""Train and write the committed sample models (seeded and deterministic).

Run from the repository root:

    python sample_models/build.py            # rebuild everything into sample_models/
    python sample_models/build.py --out DIR  # build into another folder

It ends with sample_models/build_tfserving.py, which writes TF Serving's test models (half_plus_two and
friends, with their golden metadata) into `<out>/tfserving/`.

Every sample is written with a `<name>.rows.csv` file (rows drawn from its training data, with a
header that lists the model inputs in order) and listed in `samples.json`:

    {"samples": [{"name", "file", "format", "framework", "task", "inputs", "rows", "trust",
                  "estimator", "classes", ...}]}

The module is importable: `train_*` functions return fitted models (tests retrain the cheap ones to
prove the build is reproducible) and `main()` writes everything. Heavy libraries (LightGBM, XGBoost,
skops, skl2onnx, sklearn2pmml, TensorFlow/Keras) are imported inside the functions that need them.

Needs Java 11+ for the PMML sample and tensorflow-cpu + keras for the Keras samples.

sklearn2pmml privacy note: when a conversion *fails*, the sklearn2pmml Java side (com.sklearn2pmml.Main,
0.133.1) POSTs an "incident" (exception class, message, stack trace, Java/Python/package versions) to
https://telemetry.jpmml.org/v1/incidents. It has no switch to turn that off. We route the JVM's
HTTP(S) traffic to a closed local port and give it an empty hosts file (`sklearn2pmml_java_opts()`),
so the report cannot leave the machine; successful conversions send nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

SEED = 0
#: where the committed samples live (this file's folder)
SAMPLES_DIR = Path(__file__).resolve().parent
#: rows written to every `<name>.rows.csv`
N_ROWS = 30


def sklearn2pmml_java_opts(proxy_port: int = 9) -> list[str]:
    """JVM options that keep sklearn2pmml's failure "incident" report on this machine.

    The telemetry client uses java.net.http.HttpClient, which honours the standard proxy properties:
    its HTTPS traffic goes to 127.0.0.1:`proxy_port` (9 is normally closed, so the POST fails at once
    and Main swallows the IOException). `jdk.net.hosts.file` pointing at an empty file makes every
    host name lookup fail inside the JVM, so even a direct connection cannot be attempted.
    """
    return [
        "-Dhttps.proxyHost=127.0.0.1", f"-Dhttps.proxyPort={proxy_port}",
        "-Dhttp.proxyHost=127.0.0.1", f"-Dhttp.proxyPort={proxy_port}",
        f"-Djdk.net.hosts.file={os.devnull}",
    ]


SKLEARN2PMML_JAVA_OPTS = sklearn2pmml_java_opts()

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CTR_STRING_COLUMNS = ["gender", "device", "item_category"]
CTR_NUMERIC_COLUMNS = ["age", "hour", "price", "user_ctr_7d", "item_popularity"]
CTR_COLUMNS = ["age", "gender", "device", "hour", "item_category", "price", "user_ctr_7d",
               "item_popularity"]
CTR_CATEGORIES = ["electronics", "fashion", "home", "books", "sports", "beauty"]
CANCER_COLUMNS = {  # a handful of load_breast_cancer columns, renamed to identifiers
    "mean radius": "mean_radius",
    "mean texture": "mean_texture",
    "mean smoothness": "mean_smoothness",
    "mean concave points": "mean_concave_points",
    "worst area": "worst_area",
    "worst concavity": "worst_concavity",
}


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def iris_data() -> tuple[pd.DataFrame, pd.Series]:
    """Iris as a DataFrame with identifier column names and integer labels 0, 1, 2."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    X = bunch.data.copy()
    X.columns = IRIS_COLUMNS
    y = bunch.target.astype("int64").rename("species")
    return X, y


def ctr_data(n: int = 3000, seed: int = SEED) -> tuple[pd.DataFrame, pd.Series]:
    """A synthetic click-through dataset: user and item features, `clicked` 0/1 from a logistic model."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 71, size=n)
    gender = rng.choice(["f", "m", "u"], size=n, p=[0.47, 0.45, 0.08])
    device = rng.choice(["ios", "android", "web"], size=n, p=[0.35, 0.45, 0.20])
    hour = rng.integers(0, 24, size=n)
    category = rng.choice(CTR_CATEGORIES, size=n)
    price = np.round(rng.lognormal(mean=3.2, sigma=0.8, size=n), 2)
    user_ctr_7d = np.round(rng.beta(2.0, 18.0, size=n), 4)
    item_popularity = np.round(rng.gamma(2.0, 0.5, size=n), 4)

    device_effect = {"ios": 0.35, "android": 0.0, "web": -0.45}
    category_effect = {"electronics": 0.25, "fashion": 0.4, "home": -0.1, "books": -0.35,
                       "sports": 0.1, "beauty": 0.3}
    gender_effect = {"f": 0.1, "m": -0.05, "u": -0.2}
    evening = ((hour >= 18) & (hour <= 23)).astype(float)
    logit = (-2.2
             + 9.0 * (user_ctr_7d - 0.1)
             + 0.55 * (item_popularity - 1.0)
             - 0.45 * np.log(price / 25.0)
             - 0.015 * (age - 40)
             + 0.45 * evening
             + np.vectorize(device_effect.get)(device)
             + np.vectorize(category_effect.get)(category)
             + np.vectorize(gender_effect.get)(gender))
    p_click = 1.0 / (1.0 + np.exp(-logit))
    clicked = (rng.random(n) < p_click).astype("int64")

    X = pd.DataFrame({
        "age": age.astype("int64"),
        "gender": gender.astype(object),
        "device": device.astype(object),
        "hour": hour.astype("int64"),
        "item_category": category.astype(object),
        "price": price.astype("float64"),
        "user_ctr_7d": user_ctr_7d.astype("float64"),
        "item_popularity": item_popularity.astype("float64"),
    })[CTR_COLUMNS]
    return X, pd.Series(clicked, name="clicked")


def diabetes_data() -> tuple[pd.DataFrame, pd.Series]:
    """sklearn's bundled diabetes regression data (10 scaled numeric columns)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    return bunch.data.copy(), bunch.target.rename("progression")


def cancer_data() -> tuple[pd.DataFrame, pd.Series]:
    """Six breast-cancer columns with identifier names; labels 0 (malignant) / 1 (benign)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data[list(CANCER_COLUMNS)].rename(columns=CANCER_COLUMNS)
    return X, bunch.target.astype("int64").rename("benign")


def sample_rows(X: pd.DataFrame, n: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """`n` training rows picked with a fixed seed (the rows CSV of a sample)."""
    return X.sample(n=n, random_state=seed).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# training (each returns a fitted model; deterministic for a given library version)
# --------------------------------------------------------------------------------------------

def train_iris_logreg() -> Any:
    """LogisticRegression on the iris DataFrame (feature names kept in `feature_names_in_`).

    Solved to the optimum (newton-cg, tol 1e-10): lbfgs stopped early at a point that moved by 4e-4 in
    probability when SciPy's L-BFGS-B changed, so the committed file stopped matching a rebuild."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris_data()
    return LogisticRegression(solver="newton-cg", tol=1e-10, max_iter=1000, random_state=SEED).fit(X, y)


def train_ctr_pipeline() -> Any:
    """ColumnTransformer(OneHotEncoder on strings, StandardScaler on numbers) + LogisticRegression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = ctr_data()
    pre = ColumnTransformer([
        ("onehot", OneHotEncoder(handle_unknown="ignore"), CTR_STRING_COLUMNS),
        ("scale", StandardScaler(), CTR_NUMERIC_COLUMNS),
    ])
    pipe = Pipeline([("preprocess", pre),
                     ("classifier", LogisticRegression(max_iter=1000, random_state=SEED))])
    return pipe.fit(X, y)


def train_diabetes_rf() -> Any:
    """A small RandomForestRegressor (20 trees, depth 6) on the diabetes data."""
    from sklearn.ensemble import RandomForestRegressor

    X, y = diabetes_data()
    return RandomForestRegressor(n_estimators=20, max_depth=6, random_state=SEED, n_jobs=1).fit(X, y)


def train_gb_classifier() -> Any:
    """GradientBoostingClassifier (30 trees, depth 3) on six breast-cancer columns."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = cancer_data()
    return GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=SEED).fit(X, y)


def train_lgbm_classifier() -> Any:
    """LightGBM LGBMClassifier (binary) on six breast-cancer columns, deterministic single thread."""
    import lightgbm

    X, y = cancer_data()
    model = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, max_depth=5, learning_rate=0.1,
                                    random_state=SEED, n_jobs=1, deterministic=True,
                                    force_row_wise=True, verbose=-1)
    return model.fit(X, y)


def train_xgb_classifier() -> Any:
    """XGBoost XGBClassifier (3 classes) on the iris DataFrame (feature names kept in the booster)."""
    import xgboost

    X, y = iris_data()
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, learning_rate=0.3, tree_method="hist",
                                  random_state=SEED, n_jobs=1)
    return model.fit(X, y)


def train_keras_mlp() -> Any:
    """A small Keras 3 MLP on iris: Input `features` [None, 4] -> Dense(16) -> Dense(3, softmax)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no oneDNN/CPU banner on stderr
    import keras

    keras.utils.set_random_seed(SEED)
    try:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    except Exception:  # older TF or already configured: determinism is best effort here
        pass
    X, y = iris_data()
    inputs = keras.Input(shape=(len(IRIS_COLUMNS),), name="features", dtype="float32")
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(hidden)
    model = keras.Model(inputs=inputs, outputs=outputs, name="iris_mlp")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X.to_numpy(dtype="float32"), y.to_numpy(), epochs=150, batch_size=32, shuffle=True,
              verbose=0)
    return model


# --------------------------------------------------------------------------------------------
# writing (atomic: temp path in the same folder, then os.replace)
# --------------------------------------------------------------------------------------------

def _atomic_file(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) for a temp file beside `path`, then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _atomic_dir(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmpdir) for a fresh folder beside `path`, then swap it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    target = tmp / "out"
    old = path.parent / f".{path.name}.old"
    try:
        write(target)
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_joblib(model: Any, path: Path) -> None:
    import joblib

    _atomic_file(path, lambda tmp: joblib.dump(model, tmp))


def _write_rows(rows: pd.DataFrame, path: Path) -> None:
    _atomic_file(path, lambda tmp: rows.to_csv(tmp, index=False))


@dataclass
class Sample:
    """One manifest entry of samples.json."""

    name: str
    file: str
    format: str
    framework: str
    task: str
    inputs: list[str]
    trust: bool
    estimator: str
    classes: list[Any] | None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> str:
        return f"{self.name}.rows.csv"

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "file": self.file, "format": self.format, "framework": self.framework,
               "task": self.task, "inputs": list(self.inputs), "rows": self.rows, "trust": self.trust,
               "estimator": self.estimator, "classes": self.classes, "description": self.description}
        out.update(self.extra)
        return out


def _classes(model: Any) -> list[Any]:
    return [c.item() if hasattr(c, "item") else c for c in model.classes_]


def build_iris(out: Path) -> list[Sample]:
    """iris_logreg as joblib, skops, ONNX (one input per column) and PMML: one fitted model."""
    model = train_iris_logreg()
    X, _ = iris_data()
    rows = sample_rows(X)
    classes = _classes(model)
    common = dict(task="classification", inputs=IRIS_COLUMNS, estimator="LogisticRegression",
                  classes=classes)
    samples = [
        Sample("iris_logreg", "iris_logreg.joblib", "sklearn", "sklearn", trust=True,
               description="LogisticRegression on iris (pickle via joblib)", **common),
        Sample("iris_logreg_skops", "iris_logreg.skops", "skops", "sklearn", trust=False,
               description="the same LogisticRegression saved with skops.io.dump", **common),
        Sample("iris_logreg_onnx", "iris_logreg.onnx", "onnx", "onnx", trust=False,
               description="the same LogisticRegression converted with skl2onnx (zipmap off, "
                           "one float input [None,1] per column)",
               extra={"trained_with": "sklearn"}, **common),
        Sample("iris_logreg_pmml", "iris_logreg.pmml", "pmml", "pmml", trust=False,
               description="the same LogisticRegression converted with sklearn2pmml (with "
                           "ModelVerification rows)",
               extra={"trained_with": "sklearn", "target": "species"}, **common),
    ]
    _write_joblib(model, out / "iris_logreg.joblib")
    write_skops(model, out / "iris_logreg.skops")
    write_iris_onnx(model, out / "iris_logreg.onnx")
    write_iris_pmml(model, rows, out / "iris_logreg.pmml")
    for sample in samples:
        _write_rows(rows, out / sample.rows)
    return samples


def write_skops(model: Any, path: Path) -> None:
    """Save with skops.io.dump (no pickle)."""
    import skops.io

    _atomic_file(path, lambda tmp: skops.io.dump(model, tmp))


def iris_onnx_bytes(model: Any) -> bytes:
    """skl2onnx conversion of the iris LogisticRegression with one float input [None, 1] per column.

    skl2onnx's linear classifier takes a single input, so the model is converted with one
    [None, 4] tensor and a Concat(axis=1) of the four named column inputs is put in front of it:
    the LinearClassifier node holds exactly the fitted coefficients.
    """
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    inner = "features"
    onx = convert_sklearn(model, initial_types=[(inner, FloatTensorType([None, len(IRIS_COLUMNS)]))],
                          options={id(model): {"zipmap": False}},
                          target_opset={"": 17, "ai.onnx.ml": 3})
    graph = onx.graph
    kept = [i for i in graph.input if i.name != inner]
    del graph.input[:]
    graph.input.extend([helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1])
                        for name in IRIS_COLUMNS] + kept)
    graph.node.insert(0, helper.make_node("Concat", list(IRIS_COLUMNS), [inner], axis=1,
                                          name="concat_columns"))
    graph.name = "iris_logreg"  # skl2onnx picks a random uuid: keep the file byte-reproducible
    onx.doc_string = "iris LogisticRegression sample (Model Serving Workbench)"
    onnx.checker.check_model(onx)
    return onx.SerializeToString()


def write_iris_onnx(model: Any, path: Path) -> None:
    data = iris_onnx_bytes(model)
    _atomic_file(path, lambda tmp: tmp.write_bytes(data))


def write_iris_pmml(model: Any, verify_rows: pd.DataFrame, path: Path) -> None:
    """sklearn2pmml of the *same* fitted LogisticRegression (a PMMLPipeline around it, not a refit)."""
    from sklearn2pmml import sklearn2pmml
    from sklearn2pmml.pipeline import PMMLPipeline

    pipeline = PMMLPipeline([("classifier", model)])
    pipeline.active_fields = np.asarray(IRIS_COLUMNS)
    pipeline.target_fields = np.asarray(["species"])
    pipeline.verify(verify_rows[IRIS_COLUMNS].head(10))
    _atomic_file(path, lambda tmp: _run_sklearn2pmml(sklearn2pmml, pipeline, tmp))


def _run_sklearn2pmml(convert: Callable[..., None], pipeline: Any, path: Path) -> None:
    os.environ.setdefault("SKLEARN2PMML_BANNER", time.strftime("%Y-%m-%d"))  # no advert on stdout
    convert(pipeline, str(path), java_opts=list(SKLEARN2PMML_JAVA_OPTS))


def build_ctr(out: Path) -> list[Sample]:
    model = train_ctr_pipeline()
    X, _ = ctr_data()
    sample = Sample("ctr_pipeline", "ctr_pipeline.joblib", "sklearn", "sklearn", "classification",
                    CTR_COLUMNS, trust=True, estimator="Pipeline", classes=_classes(model),
                    description="click-through rate: ColumnTransformer(OneHotEncoder on gender/device/"
                                "item_category, StandardScaler on numbers) + LogisticRegression",
                    extra={"final_estimator": "LogisticRegression",
                           "string_inputs": list(CTR_STRING_COLUMNS)})
    _write_joblib(model, out / sample.file)
    _write_rows(sample_rows(X), out / sample.rows)
    return [sample]


def build_diabetes(out: Path) -> list[Sample]:
    model = train_diabetes_rf()
    X, _ = diabetes_data()
    sample = Sample("diabetes_rf", "diabetes_rf.joblib", "sklearn", "sklearn", "regression",
                    list(X.columns), trust=True, estimator="RandomForestRegressor", classes=None,
                    description="RandomForestRegressor (20 trees, depth 6) on sklearn's diabetes data")
    _write_joblib(model, out / sample.file)
    _write_rows(sample_rows(X), out / sample.rows)
    return [sample]


def build_gb(out: Path) -> list[Sample]:
    model = train_gb_classifier()
    X, _ = cancer_data()
    sample = Sample("gb_classifier", "gb_classifier.joblib", "sklearn", "sklearn", "classification",
                    list(X.columns), trust=True, estimator="GradientBoostingClassifier",
                    classes=_classes(model),
                    description="GradientBoostingClassifier (30 trees, depth 3) on six breast-cancer "
                                "columns; 0 = malignant, 1 = benign")
    _write_joblib(model, out / sample.file)
    _write_rows(sample_rows(X), out / sample.rows)
    return [sample]


def build_lgbm(out: Path) -> list[Sample]:
    model = train_lgbm_classifier()
    X, _ = cancer_data()
    common = dict(task="classification", inputs=list(X.columns), classes=_classes(model))
    samples = [
        Sample("lgbm_classifier", "lgbm_classifier.joblib", "sklearn", "lightgbm", trust=True,
               estimator="LGBMClassifier",
               description="LightGBM LGBMClassifier (sklearn wrapper, pickle) on six breast-cancer "
                           "columns", **common),
        Sample("lgbm_classifier_native", "lgbm_classifier.txt", "lightgbm", "lightgbm", trust=False,
               estimator="Booster",
               description="the same model's native LightGBM Booster text file (binary objective: "
                           "predicts P(class 1))", **common),
    ]
    _write_joblib(model, out / "lgbm_classifier.joblib")
    _atomic_file(out / "lgbm_classifier.txt", lambda tmp: model.booster_.save_model(str(tmp)))
    rows = sample_rows(X)
    for sample in samples:
        _write_rows(rows, out / sample.rows)
    return samples


def build_xgb(out: Path) -> list[Sample]:
    model = train_xgb_classifier()
    X, _ = iris_data()
    common = dict(task="classification", inputs=list(X.columns), classes=_classes(model))
    samples = [
        Sample("xgb_classifier", "xgb_classifier.joblib", "sklearn", "xgboost", trust=True,
               estimator="XGBClassifier",
               description="XGBoost XGBClassifier (sklearn wrapper, pickle) on iris", **common),
        Sample("xgb_classifier_native", "xgb_classifier.json", "xgboost", "xgboost", trust=False,
               estimator="Booster",
               description="the same model's native XGBoost Booster JSON (multi:softprob, "
                           "feature names kept)", **common),
    ]
    _write_joblib(model, out / "xgb_classifier.joblib")
    # the booster picks its format from the suffix: keep ".json" on the temp path
    _atomic_file(out / "xgb_classifier.json", lambda tmp: model.get_booster().save_model(str(tmp)))
    rows = sample_rows(X)
    for sample in samples:
        _write_rows(rows, out / sample.rows)
    return samples


def build_keras(out: Path) -> list[Sample]:
    """keras_mlp.keras and the SavedModel folder keras_mlp_savedmodel/ (the workbench's Keras export)."""
    from workbench.core.converters.to_savedmodel.keras_export import export_keras

    model = train_keras_mlp()
    X, _ = iris_data()
    common = dict(task="classification", inputs=list(X.columns), estimator="Functional",
                  classes=[0, 1, 2],
                  extra={"input_tensor": "features", "input_shape": [None, len(IRIS_COLUMNS)],
                         "note": "one float32 input tensor `features` [None, 4]: the CSV columns "
                                 "in order are its 4 values"})
    samples = [
        Sample("keras_mlp", "keras_mlp.keras", "keras", "keras", trust=False,
               description="Keras 3 MLP on iris (softmax over classes 0, 1, 2)", **common),
        Sample("keras_mlp_savedmodel", "keras_mlp_savedmodel", "savedmodel", "tensorflow", trust=False,
               description="the same Keras model exported like model.export (signature "
                           "serving_default: input `features`, output `output_0`)", **common),
    ]
    _atomic_file(out / "keras_mlp.keras", lambda tmp: model.save(str(tmp)))
    # the workbench's Keras export (keras.export.ExportArchive, as model.export does) also records
    # the task and classes in assets.extra/workbench_model.json, which inspection reads
    _atomic_dir(out / "keras_mlp_savedmodel", lambda tmp: export_keras(model, tmp))
    rows = sample_rows(X)
    for sample in samples:
        _write_rows(rows, out / sample.rows)
    return samples


def _build_mleap_module() -> Any:
    """sample_models/build_mleap.py, imported by path (sample_models is not a package)."""
    import importlib.util
    import sys

    name = "sample_models_build_mleap"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / "build_mleap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_mleap(out: Path) -> list[Sample]:
    """mleap_iris_pipeline.zip: an MLeap bundle (vector_assembler -> standard_scaler -> logistic_regression
    on iris) serialized by the mleap package's scikit-learn support (build_mleap.iris_pipeline)."""
    case = _build_mleap_module().iris_pipeline(out)
    sample = Sample("mleap_iris_pipeline", case.path.name, "mleap", "mleap", task="classification",
                    inputs=IRIS_COLUMNS, trust=False, estimator="logistic_regression", classes=case.classes,
                    description="MLeap Bundle.ML (JSON) of a StandardScaler + LogisticRegression pipeline on iris, "
                                "written by mleap.sklearn")
    _write_rows(case.rows, out / sample.rows)
    return [sample]


#: every builder in manifest order
BUILDERS: list[Callable[[Path], list[Sample]]] = [
    build_iris, build_ctr, build_diabetes, build_gb, build_lgbm, build_xgb, build_keras, build_mleap,
]


def write_manifest(samples: list[Sample], out: Path) -> Path:
    path = out / "samples.json"
    doc = {"samples": [s.to_json() for s in samples]}
    text = json.dumps(doc, indent=2) + "\n"
    _atomic_file(path, lambda tmp: tmp.write_text(text))
    return path


def main(argv: list[str] | None = None) -> int:
    """Build every sample into --out (default: this folder) and write samples.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output folder")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    started = time.perf_counter()
    for builder in BUILDERS:
        t0 = time.perf_counter()
        built = builder(out)
        samples.extend(built)
        print(f"{builder.__name__}: {', '.join(s.file for s in built)} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    path = write_manifest(samples, out)
    t0 = time.perf_counter()
    build_tfserving(out / "tfserving")
    print(f"build_tfserving: tfserving/ ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"wrote {path} with {len(samples)} samples in {time.perf_counter() - started:.1f} s")
    return 0


def build_tfserving(out: Path) -> None:
    """Run sample_models/build_tfserving.py (the TF Serving test models) into `out`, in a fresh Python:
    TensorFlow numbers the functions of a TF2 SavedModel from process-wide counters, so after the Keras
    build in this process its saved_model.pb would differ from one built alone."""
    import subprocess

    subprocess.run([sys.executable, str(SAMPLES_DIR / "build_tfserving.py"), "--out", str(out)], check=True)


if __name__ == "__main__":
    sys.exit(main())
