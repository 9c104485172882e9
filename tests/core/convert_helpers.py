"""Shared by the conversion and MLeap tests: the conversion-matrix and build_mleap scripts imported by path, and
hashes."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_models"


def _load_by_path(name: str, path: Path):
    """A script of the repository imported once by its path, as `name` (scripts/ and sample_models/ are not
    packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_matrix_script():
    """scripts/conversion_matrix.py as a module."""
    return _load_by_path("workbench_conversion_matrix", REPO / "scripts" / "conversion_matrix.py")


def load_build_mleap():
    """sample_models/build_mleap.py as a module (the same module object scripts/conversion_matrix.py uses)."""
    return _load_by_path("sample_models_build_mleap", REPO / "sample_models" / "build_mleap.py")


def sha256(path: Path) -> str:
    """Hash of a file, or of every file under a folder (names and contents)."""
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        digest.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def tree_snapshot(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder`."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def load_samples_build():
    """sample_models/build.py as a module (for its seeded CTR data)."""
    name = "workbench_samples_build_for_convert_tests"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLES / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ctr_booster_pipelines(folder: Path) -> tuple[dict[str, Path], Path]:
    """ColumnTransformer(OneHot for strings + StandardScaler) followed by XGBoost / LightGBM, fitted on
    the seeded CTR data; saved as joblib. Returns ({"xgb": path, "lgbm": path}, rows CSV path)."""
    import joblib
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from xgboost import XGBClassifier

    build = load_samples_build()
    X, y = build.ctr_data(n=800)
    numeric = list(build.CTR_NUMERIC_COLUMNS)
    text = [c for c in X.columns if c not in numeric]
    folder.mkdir(parents=True, exist_ok=True)
    rows = folder / "ctr_rows.csv"
    X.tail(30).to_csv(rows, index=False)
    paths = {}
    for key, est in (("xgb", XGBClassifier(n_estimators=20, max_depth=3, random_state=0)),
                     ("lgbm", LGBMClassifier(n_estimators=20, random_state=0, verbose=-1))):
        prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), text),
                                  ("num", StandardScaler(), numeric)])
        model = Pipeline([("prep", prep), ("est", est)]).fit(X.iloc[:-30], y.iloc[:-30])
        paths[key] = folder / f"ctr_{key}.joblib"
        joblib.dump(model, paths[key])
    return paths, rows
