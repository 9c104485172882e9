"""Fidelity of scikit-learn pipelines as users build them (issue 18 items 4, 5, 11).

Each model is built here with the real libraries: sklearn2pmml's PMMLPipeline over a sklearn-pandas
DataFrameMapper with domain decorators, LightGBM and HistGradientBoosting fitted on pandas
categoricals, a TF-IDF text pipeline, and a skops file with types skops does not trust. Inspection
(untrusted: the pickle scanner / skops schema; trusted: the loaded object) must show the columns the
user feeds, typed as they are, and predictions on the real rows must equal the library's own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from workbench.core.models import inspect_model
from workbench.core.rows import read_rows
from workbench.core.runtimes import predict_rows

N = 240


def _specs(info) -> dict:  # type: ignore[no-untyped-def]
    return {s.name: s for s in info.inputs}


def _rows_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _predict(model: Path, rows: Path) -> np.ndarray:
    _, _, batch = predict_rows(model, read_rows(rows), trust=True)
    return batch.probabilities


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "age": rng.integers(18, 80, N).astype(float),
        "income": rng.normal(50, 10, N).round(2),
        "color": rng.choice(["red", "green", "blue"], N),
        "size": rng.choice(["S", "M", "XL"], N),
    })


def _target(frame: pd.DataFrame) -> np.ndarray:
    return (((frame["age"] > 45) ^ (frame["color"] == "red")) | (frame["size"] == "XL")).astype(int).to_numpy()


@pytest.fixture(scope="module")
def pmml_pipeline(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> dict:
    from sklearn2pmml.sklearn_pandas import patch_sklearn

    patch_sklearn()  # sklearn-pandas 2.2 imports sklearn.utils.tosequence (gone since scikit-learn 1.7)
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn2pmml.decoration import CategoricalDomain, ContinuousDomain
    from sklearn2pmml.pipeline import PMMLPipeline
    from sklearn_pandas import DataFrameMapper

    folder = tmp_path_factory.mktemp("pmmlpipeline")
    mapper = DataFrameMapper([
        (["age", "income"], [ContinuousDomain(), StandardScaler()]),
        (["color", "size"], [CategoricalDomain(), OneHotEncoder()]),
    ])
    pipeline = PMMLPipeline([("mapper", mapper), ("classifier", LogisticRegression())])
    pipeline.fit(data, _target(data))
    joblib.dump(pipeline, folder / "pipeline.joblib")
    rows = data.iloc[:40]
    return {"path": folder / "pipeline.joblib", "rows": _rows_csv(rows, folder / "rows.csv"),
            "expected": pipeline.predict_proba(rows), "data": data}


@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
def test_pmml_pipeline_inputs_are_its_columns_with_domains(pmml_pipeline: dict, trust: bool) -> None:
    info = inspect_model(pmml_pipeline["path"], trust=trust)
    specs = _specs(info)
    assert list(specs) == ["age", "income", "color", "size"]
    data = pmml_pipeline["data"]
    assert (specs["age"].dtype, specs["age"].value_range) == ("float64", (data["age"].min(), data["age"].max()))
    assert specs["income"].value_range == (data["income"].min(), data["income"].max())
    assert (specs["color"].dtype, specs["color"].categories) == ("string", ("blue", "green", "red"))
    assert (specs["size"].dtype, specs["size"].categories) == ("string", ("M", "S", "XL"))
    assert info.task == "classification" and info.classes == [0, 1]
    assert not any("x0" in w or "could not be determined" in w for w in info.warnings)


def test_pmml_pipeline_predicts_the_real_rows(pmml_pipeline: dict) -> None:
    np.testing.assert_allclose(_predict(pmml_pipeline["path"], pmml_pipeline["rows"]), pmml_pipeline["expected"],
                               rtol=1e-12, atol=1e-12)


def test_jpmml_extra_brings_sklearn_pandas_and_is_in_all() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("sklearn-pandas") for req in extras["jpmml"])
    assert "model-serving-workbench[jpmml]" in extras["all"]


# ---------------------------------------------------------------------------- categoricals and text

def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("color", "size"):
        out[col] = pd.Categorical(out[col], categories=sorted(out[col].unique()))
    return out


@pytest.fixture(scope="module")
def categorical_models(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> dict:
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier

    folder = tmp_path_factory.mktemp("categorical")
    frame = _categorical(data[["age", "color", "size"]])
    y = _target(data)
    lgbm = LGBMClassifier(n_estimators=15, min_child_samples=5, verbose=-1).fit(frame, y)
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=15).fit(frame, y)
    joblib.dump(lgbm, folder / "lgbm.joblib")
    joblib.dump(hgb, folder / "hgb.joblib")
    rows = frame.iloc[:40]
    return {"folder": folder, "rows": _rows_csv(data[["age", "color", "size"]].iloc[:40], folder / "rows.csv"),
            "expected": {"lgbm": lgbm.predict_proba(rows), "hgb": hgb.predict_proba(rows)}}


@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
@pytest.mark.parametrize("name", ["lgbm", "hgb"])
def test_pandas_categorical_inputs_are_categories(categorical_models: dict, name: str, trust: bool) -> None:
    specs = _specs(inspect_model(categorical_models["folder"] / f"{name}.joblib", trust=trust))
    assert list(specs) == ["age", "color", "size"]
    assert specs["age"].dtype == "float64" and specs["age"].categories is None
    assert (specs["color"].dtype, specs["color"].categories) == ("string", ("blue", "green", "red"))
    assert (specs["size"].dtype, specs["size"].categories) == ("string", ("M", "S", "XL"))


@pytest.mark.parametrize("name", ["lgbm", "hgb"])
def test_pandas_categorical_models_predict_the_text_rows(categorical_models: dict, name: str) -> None:
    got = _predict(categorical_models["folder"] / f"{name}.joblib", categorical_models["rows"])
    np.testing.assert_allclose(got, categorical_models["expected"][name], rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def tfidf_pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    folder = tmp_path_factory.mktemp("tfidf")
    rng = np.random.default_rng(3)
    good, bad = ["great", "fine", "lovely", "good"], ["awful", "bad", "dull", "poor"]
    y = rng.integers(0, 2, 120)
    reviews = [" ".join(rng.choice(good if label else bad, 3)) + " film" for label in y]
    frame = pd.DataFrame({"review": reviews, "stars": rng.integers(1, 6, 120).astype(float)})
    pipeline = Pipeline([
        ("columns", ColumnTransformer([("text", TfidfVectorizer(), "review"), ("num", "passthrough", ["stars"])])),
        ("classifier", LogisticRegression()),
    ]).fit(frame, y)
    joblib.dump(pipeline, folder / "tfidf.joblib")
    rows = frame.iloc[:30]
    return {"path": folder / "tfidf.joblib", "rows": _rows_csv(rows, folder / "rows.csv"),
            "expected": pipeline.predict_proba(rows)}


@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
def test_tfidf_text_column_is_a_string_input(tfidf_pipeline: dict, trust: bool) -> None:
    specs = _specs(inspect_model(tfidf_pipeline["path"], trust=trust))
    assert list(specs) == ["review", "stars"]
    assert specs["review"].dtype == "string" and specs["review"].categories is None
    assert specs["stars"].dtype == "float64"


def test_tfidf_pipeline_predicts_the_text_rows(tfidf_pipeline: dict) -> None:
    np.testing.assert_allclose(_predict(tfidf_pipeline["path"], tfidf_pipeline["rows"]), tfidf_pipeline["expected"],
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- skops, untrusted

@pytest.fixture(scope="module")
def untrusted_skops(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> dict:
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    folder = tmp_path_factory.mktemp("skops")
    frame = data[["age", "income"]]
    y = np.where(_target(data) == 1, "yes", "no")
    model = HistGradientBoostingClassifier(max_iter=10).fit(frame, y)
    sio.dump(model, folder / "hgb.skops")
    assert sio.get_untrusted_types(file=folder / "hgb.skops")  # its TreePredictor is not trusted by default
    return {"path": folder / "hgb.skops", "model": model}


def test_untrusted_skops_is_described_from_its_schema(untrusted_skops: dict) -> None:
    untrusted = inspect_model(untrusted_skops["path"], trust=False)
    trusted = inspect_model(untrusted_skops["path"], trust=True)
    assert untrusted.loaded is False
    assert [s.name for s in untrusted.inputs] == ["age", "income"] == [s.name for s in trusted.inputs]
    assert [s.dtype for s in untrusted.inputs] == [s.dtype for s in trusted.inputs]
    assert untrusted.task == trusted.task == "classification"
    assert untrusted.classes == trusted.classes == ["no", "yes"]
    assert [(o.name, o.dtype) for o in untrusted.outputs] == [(o.name, o.dtype) for o in trusted.outputs]
    assert untrusted.metadata["estimator"].endswith("HistGradientBoostingClassifier")
