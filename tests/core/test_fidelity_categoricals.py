"""Issue 18 items 1, 4, 6, 10: native LightGBM/XGBoost categorical inputs, missing values, version skew.

Every model is built here with the real libraries: LightGBM trained on a pandas DataFrame with
integer-valued and string categoricals (saved as .txt), XGBoost with enable_categorical=True (saved
as .json and .ubj), trees fitted on NaN. `workbench predict` must give the library's own predictions
on the same DataFrame.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main

INT_LEVELS = [3, 4, 5, 6, 8]
WIDE_LEVELS = list(range(70, 83))
STR_LEVELS = ["Private", "Public", "Self"]
TOL = 1e-12


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def predict_json(capsys: pytest.CaptureFixture[str], model: Path, rows: Path, *extra: str) -> dict:
    code, out, err = run_cli(capsys, "predict", model, "--rows", rows, "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def values(doc: dict) -> np.ndarray:
    return np.array([p["value"] for p in doc["predictions"]], dtype=np.float64)


def p1(doc: dict) -> np.ndarray:
    return np.array([p["probabilities"]["1"] if isinstance(p["probabilities"], dict) else p["probabilities"][1]
                     for p in doc["predictions"]], dtype=np.float64)


def typed(frame: pd.DataFrame, columns: dict[str, list]) -> pd.DataFrame:
    """`frame` with the given columns as pandas Categoricals of the training categories."""
    out = frame.copy()
    for name, levels in columns.items():
        out[name] = pd.Series(out[name], dtype="category").cat.set_categories(levels)  # unknown -> NaN
    return out


def training_frame(n: int = 500, seed: int = 0, strings: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "num": rng.normal(size=n),
        "icat": pd.Categorical(rng.choice(INT_LEVELS, n), categories=INT_LEVELS),
        "wide": pd.Categorical(rng.choice(WIDE_LEVELS, n), categories=WIDE_LEVELS),
    })
    y = frame["num"] * 2 + frame["icat"].astype(int) * 1.5 + (frame["wide"].astype(int) % 3) * 4
    if strings:
        frame["scat"] = pd.Categorical(rng.choice(STR_LEVELS, n), categories=STR_LEVELS)
        y = y + (frame["scat"] == "Private") * 5
    frame.loc[rng.random(n) < 0.1, "num"] = np.nan
    return frame, np.asarray(y + rng.normal(size=n) * 0.1, dtype=np.float64)


LEVELS = {"icat": INT_LEVELS, "wide": WIDE_LEVELS, "scat": STR_LEVELS}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import lightgbm
    import xgboost

    out = tmp_path_factory.mktemp("categoricals")
    params = {"objective": "regression", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1,
              "max_cat_to_onehot": 1}
    ints, y_ints = training_frame(strings=False)
    lightgbm.train(params, lightgbm.Dataset(ints, y_ints), 20).save_model(str(out / "lgb_int.txt"))
    mixed, y_mixed = training_frame(seed=1)
    lightgbm.train(params, lightgbm.Dataset(mixed, y_mixed), 20).save_model(str(out / "lgb_mixed.txt"))
    booster = xgboost.train({"tree_method": "hist", "max_cat_to_onehot": 1, "max_depth": 4},
                            xgboost.DMatrix(mixed, y_mixed, enable_categorical=True), 20)
    booster.save_model(str(out / "xgb.json"))
    booster.save_model(str(out / "xgb.ubj"))
    held_out, _ = training_frame(n=80, seed=7)  # rows the models never saw, with NaN in 'num'
    csv = held_out.copy()
    for name in LEVELS:
        csv[name] = csv[name].astype(object)
    csv.to_csv(out / "rows.csv", index=False)
    csv.drop(columns=["scat"]).to_csv(out / "rows_int.csv", index=False)
    return {"dir": out, "lgb_int": out / "lgb_int.txt", "lgb_mixed": out / "lgb_mixed.txt",
            "xgb.json": out / "xgb.json", "xgb.ubj": out / "xgb.ubj", "rows": out / "rows.csv",
            "rows_int": out / "rows_int.csv"}


def library_rows(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return typed(frame, {c: LEVELS[c] for c in (columns or LEVELS) if c in frame.columns})


# -- item 1: integer-valued categoricals are fed as values, not codes --------------------------------

def test_lightgbm_integer_categoricals_predict_like_the_library(models, capsys):
    import lightgbm

    got = values(predict_json(capsys, models["lgb_int"], models["rows_int"]))
    expected = lightgbm.Booster(model_file=str(models["lgb_int"])).predict(library_rows(models["rows_int"]))
    assert np.abs(got - expected).max() <= TOL
    assert np.abs(expected).max() > 10  # a real model: the values matter


def test_lightgbm_string_and_integer_categoricals_predict_like_the_library(models, capsys):
    import lightgbm

    doc = predict_json(capsys, models["lgb_mixed"], models["rows"])
    expected = lightgbm.Booster(model_file=str(models["lgb_mixed"])).predict(library_rows(models["rows"]))
    assert np.abs(values(doc) - expected).max() <= TOL
    assert doc["warnings"] == []


@pytest.mark.parametrize("name", ["xgb.json", "xgb.ubj"])
def test_xgboost_categoricals_predict_like_the_library(models, capsys, name):
    import xgboost

    got = values(predict_json(capsys, models[name], models["rows"]))
    booster = xgboost.Booster(model_file=str(models[name]))
    expected = booster.predict(xgboost.DMatrix(library_rows(models["rows"]), enable_categorical=True))
    assert np.abs(got - expected).max() <= TOL


@pytest.mark.parametrize("name", ["lgb_mixed", "xgb.json", "xgb.ubj"])
def test_inspect_shows_the_training_categories(models, capsys, name):
    code, out, err = run_cli(capsys, "inspect", models[name], "--json")
    assert code == 0, err
    inputs = {i["name"]: i for i in json.loads(out)["inputs"]}
    assert inputs["icat"]["categories"] == INT_LEVELS and inputs["icat"]["dtype"] == "int64"
    assert inputs["wide"]["categories"] == WIDE_LEVELS
    assert inputs["scat"]["categories"] == STR_LEVELS and inputs["scat"]["dtype"] == "string"
    assert inputs["num"]["dtype"].startswith("float") and "categories" not in inputs["num"]
    assert json.loads(out)["metadata"]["categorical_inputs"] == ["icat", "wide", "scat"]
    code, out, _ = run_cli(capsys, "inspect", models[name])
    assert "categories: Private, Public, Self" in out and "categories: 3, 4, 5, 6, 8" in out


# -- item 4: unknown categories and values of the wrong type ------------------------------------------

def unknown_rows(models: dict[str, Path]) -> Path:
    frame = pd.read_csv(models["rows"]).head(5)
    frame.loc[0, "icat"] = 7
    frame.loc[2, "scat"] = "Zed"
    path = models["dir"] / "unknown.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["xgb.json", "xgb.ubj"])
def test_xgboost_unknown_category_is_a_row_error(models, capsys, name):
    code, out, err = run_cli(capsys, "predict", models[name], "--rows", unknown_rows(models))
    assert code == 2
    assert "row 1, column 'icat': 7 is not a known category (known: 3, 4, 5, 6, 8): XGBoost refuses" in err
    assert "row 3, column 'scat': 'Zed' is not a known category (known: 'Private', 'Public', 'Self')" in err
    assert "Traceback" not in err


def test_lightgbm_unknown_category_warns_and_follows_the_library(models, capsys):
    import lightgbm

    rows = unknown_rows(models)
    doc = predict_json(capsys, models["lgb_mixed"], rows)
    assert any(w.startswith("row 1, column 'icat': 7 is not a known category (known: 3, 4, 5, 6, 8): LightGBM "
                            "treats it as a missing value") for w in doc["warnings"])
    assert any("row 3, column 'scat': 'Zed' is not a known category" in w for w in doc["warnings"])
    library = lightgbm.Booster(model_file=str(models["lgb_mixed"]))
    expected = library.predict(library_rows(rows))  # pandas makes the unknown values NaN, as LightGBM does
    assert np.abs(values(doc) - expected).max() <= TOL


def test_a_value_of_the_wrong_type_names_the_known_categories(models, capsys):
    frame = pd.read_csv(models["rows"]).head(3).astype({"icat": object})
    frame.loc[1, "icat"] = "abc"
    path = models["dir"] / "wrong_type.csv"
    frame.to_csv(path, index=False)
    code, _, err = run_cli(capsys, "predict", models["lgb_mixed"], "--rows", path)
    assert code == 2
    assert "row 2, column 'icat': 'abc' is not a known category of input 'icat' (known: 3, 4, 5, 6, 8)" in err


# -- item 6: trees fitted on NaN take NaN rows, and convert with proof --------------------------------

@pytest.fixture(scope="module")
def nan_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import joblib
    import lightgbm
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    out = tmp_path_factory.mktemp("nan_trees")
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    X.loc[rng.random(400) < 0.2, "a"] = np.nan
    X.loc[rng.random(400) < 0.2, "b"] = np.nan
    y = (X["a"].fillna(1.0) + X["b"].fillna(-1.0) > 0).astype(int)
    lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), 15).save_model(
        str(out / "lgb_nan.txt"))
    joblib.dump(RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y), out / "rf_nan.joblib")
    joblib.dump(HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y), out / "hgb_nan.joblib")
    rows = X.head(40).copy()
    rows.loc[rows.index[:3], "c"] = np.nan  # a column never missing in training, too
    rows.to_csv(out / "rows.csv", index=False)
    return {"dir": out, "lgb": out / "lgb_nan.txt", "rf": out / "rf_nan.joblib", "hgb": out / "hgb_nan.joblib",
            "rows": out / "rows.csv"}


@pytest.mark.parametrize("name", ["rf", "hgb"])
def test_sklearn_trees_fitted_on_nan_predict_nan_rows_like_the_library(nan_models, capsys, name):
    import joblib

    model = joblib.load(nan_models[name])
    rows = pd.read_csv(nan_models["rows"])
    assert rows.isna().any().any()
    doc = predict_json(capsys, nan_models[name], nan_models["rows"], "--trust")
    assert np.abs(p1(doc) - model.predict_proba(rows)[:, 1]).max() <= TOL


@pytest.mark.parametrize("target", ["onnx", "pmml"])
@pytest.mark.parametrize("name", ["lgb", "hgb"])
def test_tree_fitted_on_nan_converts_with_proof_on_nan_rows(nan_models, capsys, name, target):
    if target == "pmml":
        pytest.importorskip("jpmml_evaluator")
    out = nan_models["dir"] / f"{name}.{target}"
    code, stdout, err = run_cli(capsys, "convert", nan_models[name], "--to", target, "--out", out, "--rows",
                                nan_models["rows"], "--json", "--force", "--trust")
    report = json.loads(stdout)
    assert code == 0, (report.get("error"), err[-400:])
    assert report["passed"] is True
    # the converted file answers the NaN rows of the data like the original (not only on explained rows)
    original = predict_json(capsys, nan_models[name], nan_models["rows"], "--trust")
    converted = predict_json(capsys, out, nan_models["rows"])
    nan_rows = pd.read_csv(nan_models["rows"]).isna().any(axis=1).to_numpy()
    assert nan_rows.sum() >= 10
    assert np.abs(p1(original)[nan_rows] - p1(converted)[nan_rows]).max() <= 1e-4


def test_onnx_tree_ensemble_inputs_accept_missing(nan_models, capsys):
    out = nan_models["dir"] / "inspect_lgb.onnx"
    code, _, err = run_cli(capsys, "convert", nan_models["lgb"], "--to", "onnx", "--out", out, "--rows",
                           nan_models["rows"], "--force")
    assert code == 0, err
    from workbench.core.models import inspect_model

    info = inspect_model(str(out))
    assert all(s.accepts_missing for s in info.inputs)


# -- item 10: version skew ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dart(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import xgboost

    out = tmp_path_factory.mktemp("skew")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    booster = xgboost.train({"booster": "dart", "rate_drop": 0.1, "skip_drop": 0.0},
                            xgboost.DMatrix(X, X[:, 0] + X[:, 1] ** 2), 10)
    booster.save_model(str(out / "dart.json"))
    doc = json.loads((out / "dart.json").read_text())
    doc["version"] = [3, 4, 1] if tuple(doc["version"]) < (3, 4, 1) else [doc["version"][0] + 1, 0, 0]
    doc["learner"]["gradient_booster"]["weight_drop_normalization"] = "tree"  # a part the installed one lacks
    (out / "dart_newer.json").write_text(json.dumps(doc))
    pd.DataFrame(X[:5], columns=["f0", "f1", "f2"]).to_csv(out / "rows.csv", index=False)
    return {"dir": out, "same": out / "dart.json", "newer": out / "dart_newer.json", "rows": out / "rows.csv"}


def test_xgboost_file_newer_than_the_installed_library_is_flagged(dart, capsys):
    import xgboost

    code, out, err = run_cli(capsys, "inspect", dart["newer"], "--json")
    assert code == 0, err
    warnings = json.loads(out)["warnings"]
    written = ".".join(map(str, json.loads(dart["newer"].read_text())["version"]))
    assert any(w.startswith(f"version skew: the file was written by XGBoost {written}, newer than the installed "
                            f"XGBoost {xgboost.__version__}") for w in warnings)
    assert any("DART" in w and "weight_drop" in w for w in warnings)
    assert any("does not know parts of this file" in w and "weight_drop_normalization" in w for w in warnings)
    doc = predict_json(capsys, dart["newer"], dart["rows"])
    assert any(w.startswith("version skew:") for w in doc["warnings"])
    code, out, _ = run_cli(capsys, "inspect", dart["same"], "--json")
    assert not any("skew" in w or "DART" in w for w in json.loads(out)["warnings"])


def test_lightgbm_model_format_newer_than_the_installed_library_is_flagged(models, capsys, tmp_path):
    text = models["lgb_int"].read_text()
    newer = tmp_path / "lgb_v9.txt"
    newer.write_text(text.replace("\nversion=v4\n", "\nversion=v9\n", 1))
    code, out, err = run_cli(capsys, "inspect", newer, "--json")
    assert code == 0, err
    assert any(w.startswith("version skew: the file is LightGBM model format v9") for w in json.loads(out)["warnings"])
    code, out, _ = run_cli(capsys, "inspect", models["lgb_int"], "--json")
    assert json.loads(out)["warnings"] == []


def test_sklearn_pickle_from_a_newer_scikit_learn_is_flagged(tmp_path, capsys):
    import pickle

    import sklearn
    from sklearn.tree import DecisionTreeClassifier

    installed = sklearn.__version__.encode()
    bumped = b"9" * len(installed.split(b".")[0]) + installed[len(installed.split(b".")[0]):]
    raw = pickle.dumps(DecisionTreeClassifier().fit([[0.0], [1.0]], [0, 1]))
    assert installed in raw
    path = tmp_path / "newer.pkl"
    path.write_bytes(raw.replace(installed, bumped))
    code, out, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 0, err
    assert any(w.startswith(f"version skew: the file was written by scikit-learn {bumped.decode()}")
               for w in json.loads(out)["warnings"])


@pytest.mark.parametrize("magic", [True, False])
def test_xgboost_legacy_binary_format_is_named(tmp_path, capsys, magic):
    param = struct.pack("<fIi", 0.5, 4, 0) + b"\0" * (136 - 12)  # LearnerModelParam (legacy binary layout)
    body = param + struct.pack("<Q", 15) + b"binary:logistic" + struct.pack("<Q", 6) + b"gbtree" + b"\0" * 64
    path = tmp_path / "old.model"
    path.write_bytes((b"binf" if magic else b"") + body)
    code, _, err = run_cli(capsys, "inspect", path)
    assert code == 2
    assert "old.model is an XGBoost legacy binary model (binary:logistic, gbtree;" in err
    assert "save_model('model.json')" in err


def test_conversion_of_a_newer_xgboost_file_says_its_proof_ran_the_installed_library(tmp_path, capsys):
    import xgboost

    rng = np.random.default_rng(6)
    X = rng.normal(size=(150, 3))
    booster = xgboost.train({"max_depth": 3}, xgboost.DMatrix(X, X[:, 0] - X[:, 2]), 8)
    booster.save_model(str(tmp_path / "gbtree.json"))
    doc = json.loads((tmp_path / "gbtree.json").read_text())
    doc["version"] = [doc["version"][0] + 1, 0, 0]
    (tmp_path / "newer.json").write_text(json.dumps(doc))
    pd.DataFrame(X[:20], columns=["f0", "f1", "f2"]).to_csv(tmp_path / "rows.csv", index=False)
    code, out, err = run_cli(capsys, "convert", tmp_path / "newer.json", "--to", "onnx", "--out",
                             tmp_path / "newer.onnx", "--rows", tmp_path / "rows.csv", "--json")
    assert code == 0, err
    assert json.loads(out)["notes"]["version_skew"].startswith(
        f"version skew: the file was written by XGBoost {doc['version'][0]}.0.0, newer than the installed")
    code, _, err = run_cli(capsys, "convert", tmp_path / "newer.json", "--to", "onnx", "--out",
                           tmp_path / "newer.onnx", "--rows", tmp_path / "rows.csv", "--force")
    assert code == 0
    assert "warning: version skew:" in err and "(the parity proof ran the installed one)" in err
