"""Fidelity of rows: no row is ever dropped or shifted, extra columns are ignored (named in a warning).

Issue 18 items 2 and 8. The models are built here with the real libraries (XGBoost, sklearn2pmml's
Java converter), and every prediction is checked against the library's own on the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main
from workbench.core.errors import InputRowsError
from workbench.core.rows import read_rows
from workbench.core.runtimes import predict_rows

FEATURES = ["sl", "sw", "pl", "pw"]
#: the row (0-based, in the rows file) left all-empty
EMPTY_AT = 3


@pytest.fixture(scope="module")
def xgb_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An XGBoost classifier on iris: pickled, and converted to PMML by sklearn2pmml (Java)."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn2pmml import sklearn2pmml
    from sklearn2pmml.pipeline import PMMLPipeline
    from xgboost import XGBClassifier

    folder = tmp_path_factory.mktemp("xgb")
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = FEATURES
    pipeline = PMMLPipeline([("clf", XGBClassifier(n_estimators=6, max_depth=2, random_state=0))])
    pipeline.fit(X, y)
    model = pipeline.steps[-1][1]
    joblib.dump(model, folder / "xgb.joblib")
    sklearn2pmml(pipeline, str(folder / "xgb.pmml"))
    rows = X.iloc[::10].reset_index(drop=True).astype(object)
    rows.iloc[EMPTY_AT] = None
    with open(folder / "rows.csv", "w") as fh:
        fh.write(",".join(FEATURES) + "\n")
        for _, row in rows.iterrows():
            fh.write(",".join("" if v is None else repr(float(v)) for v in row) + "\n")
    expected = model.predict_proba(rows.astype(np.float64))
    return {"folder": folder, "model": model, "rows": rows, "expected": expected}


def test_an_all_empty_csv_row_is_read_as_a_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("\na,b\n1,2\n,\n\n3,4\n\n\n")
    frame = read_rows(path)
    assert len(frame) == 4  # leading and trailing blank lines are layout; the two in the middle are rows
    assert frame["a"].tolist() == ["1", "", "", "3"] and frame["b"].tolist() == ["2", "", "", "4"]


def test_xgboost_predicts_the_empty_row_in_place(xgb_models: dict) -> None:
    frame = read_rows(xgb_models["folder"] / "rows.csv")
    assert len(frame) == len(xgb_models["rows"]) == 15
    _, _, batch = predict_rows(xgb_models["folder"] / "xgb.joblib", frame, trust=True)
    assert batch.rows == 15
    np.testing.assert_allclose(batch.probabilities, xgb_models["expected"], rtol=1e-6, atol=1e-7)


@pytest.mark.java
@pytest.mark.parametrize("runtime", ["pmml4s", "jpmml"])
def test_pmml_engines_predict_the_empty_row_in_place(xgb_models: dict, runtime: str) -> None:
    """The MiningSchema of this PMML takes fewer fields than the rows have (trees use some only): the
    others are ignored, and every row (the all-empty one too) gets XGBoost's own answer, in order."""
    frame = read_rows(xgb_models["folder"] / "rows.csv")
    info, prepared, batch = predict_rows(xgb_models["folder"] / "xgb.pmml", frame, runtime=runtime)
    assert len(info.inputs) < len(FEATURES)
    assert len(prepared) == batch.rows == 15
    np.testing.assert_allclose(batch.probabilities, xgb_models["expected"], rtol=1e-5, atol=1e-6)
    assert batch.labels.tolist() == xgb_models["model"].predict(
        xgb_models["rows"].astype(np.float64)).tolist()
    unused = [c for c in FEATURES if c not in info.input_names()]
    assert batch.warnings[0] == (f"ignored {len(unused)} column{'s' if len(unused) != 1 else ''} the model "
                                 f"does not take: {', '.join(map(repr, unused))} (pass --strict to refuse them)")


@pytest.mark.java
def test_id_and_label_columns_are_ignored_and_named(xgb_models: dict, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rows = xgb_models["rows"].copy()
    rows.insert(0, "id", range(100, 100 + len(rows)))
    rows["label"] = xgb_models["model"].predict(xgb_models["rows"].astype(np.float64))
    path = tmp_path / "with_id.csv"
    rows.to_csv(path, index=False)
    pmml = xgb_models["folder"] / "xgb.pmml"
    code = main(["predict", str(pmml), "--rows", str(path), "--runtime", "jpmml", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows"] == 15
    probs = np.array([[rec["probabilities"][str(c)] for c in range(3)] for rec in doc["predictions"]])
    np.testing.assert_allclose(probs, xgb_models["expected"], rtol=1e-5, atol=1e-6)
    assert len(doc["warnings"]) == 1 and "'id'" in doc["warnings"][0] and "'label'" in doc["warnings"][0]
    code = main(["predict", str(pmml), "--rows", str(path), "--runtime", "jpmml", "--strict"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "unexpected column 'id' (not a model input: remove it)" in err
    assert "unexpected column 'label' (not a model input: remove it)" in err


def test_an_all_empty_row_is_refused_by_its_number_where_missing_is_not_accepted(tmp_path: Path) -> None:
    """A model that cannot take missing values refuses the row, by its number; it is never skipped."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = FEATURES
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "lr.joblib")
    path = tmp_path / "rows.csv"
    path.write_text("sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n,,,\n6.3,2.8,5.1,1.8\n")
    with pytest.raises(InputRowsError) as err:
        predict_rows(tmp_path / "lr.joblib", read_rows(path), trust=True)
    assert err.value.problems[0].startswith("row 2, column 'sl': missing value")
    assert pd.Series(err.value.problems).str.startswith("row 2,").all()
