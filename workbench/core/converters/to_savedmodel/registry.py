"""Which estimator classes can be compiled to TF ops, and by which function.

Keyed by the estimator's class name within its package (``sklearn``, ``lightgbm``, ``xgboost``):
exact classes only, so a user subclass with changed behaviour is reported, not silently compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.converters.to_savedmodel.graph import CompileError, Context, Step
from workbench.core.registry import Registry

#: check(estimator) -> None when compilable, else the reason (the caller adds the class name)
CheckFn = Callable[[Any], "str | None"]
#: build(estimator, ctx) -> a step function (see graph.Step)
BuildFn = Callable[[Any, Context], Step]


@dataclass(frozen=True)
class Compiler:
    """How one estimator class becomes TF ops."""

    package: str  # top-level package of the class: sklearn, lightgbm, xgboost
    cls: str
    role: str  # "transformer" | "classifier" | "regressor" | "pipeline"
    build: BuildFn
    check: CheckFn | None = None


COMPILERS: Registry[str, Compiler] = Registry("SavedModel compiler")

#: one line for error messages (`supported_classes()` lists every class)
SUPPORTED_SUMMARY = (
    "Pipeline, ColumnTransformer, Standard/MinMax/MaxAbs/RobustScaler, SimpleImputer, "
    "OneHot/OrdinalEncoder, linear models, LogisticRegression, decision trees, random forests, "
    "extra trees, (Hist)GradientBoosting, MLP, LightGBM, XGBoost"
)


def register(
    package: str, names: tuple[str, ...] | str, role: str, check: CheckFn | None = None
) -> Callable[[BuildFn], BuildFn]:
    """Decorator: register `build` for the class names of `package`."""
    if isinstance(names, str):
        names = (names,)

    def deco(build: BuildFn) -> BuildFn:
        for name in names:
            COMPILERS.register(f"{package}.{name}", Compiler(package, name, role, build, check))
        return build

    return deco


def class_key(estimator: Any) -> str:
    cls = type(estimator)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def compiler_for(estimator: Any) -> Compiler | None:
    key = class_key(estimator)
    return COMPILERS.get(key) if key in COMPILERS else None


def supported_classes() -> list[str]:
    return sorted(c.cls for c in COMPILERS.values())


def unsupported_reason(estimator: Any, where: str = "") -> str | None:
    """None when `estimator` (and every step inside it) compiles, else one line naming the step."""
    comp = compiler_for(estimator)
    label = type(estimator).__name__ + (f" (step {where!r})" if where else "")
    if comp is None:
        return f"no TensorFlow compiler for {label}; supported: {SUPPORTED_SUMMARY}"
    if comp.check is not None:
        why = comp.check(estimator)
        if why:
            if comp.cls in ("Pipeline", "ColumnTransformer") or why.startswith(type(estimator).__name__):
                return why
            return f"{label}: {why}"
    return None


def build_step(estimator: Any, ctx: Context, where: str = "") -> Step:
    """Check then build one estimator (recursion entry for Pipeline/ColumnTransformer)."""
    why = unsupported_reason(estimator, where)
    if why:
        raise CompileError(why)
    comp = compiler_for(estimator)
    assert comp is not None
    return comp.build(estimator, ctx)


def role_of(estimator: Any) -> str | None:
    comp = compiler_for(estimator)
    return comp.role if comp else None
