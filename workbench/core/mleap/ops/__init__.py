"""The native MLeap scorer: one function per MLeap op, registered by op name in `OPS`.

Each op is `scorer(node, columns) -> new columns`: it reads the frame fields its node's input ports
name from `columns` (field name -> numpy array: (N,) for a scalar field, (N, k) float64 for a
vector field, object arrays for text) and returns the fields its output ports name. `score_nodes`
runs a pipeline's nodes in order, adding each node's outputs to the frame. Everything numeric is
float64 and follows Spark ML's (and MLeap runtime's) semantics, not scikit-learn's where they differ.

One module per op family registers its ops with `@register("op_name", ...)`:
`indexers` (string_indexer, reverse_string_indexer), `encoders` (one_hot_encoder, bucketizer, binarizer),
`vectors` (vector_assembler, interaction, polynomial_expansion), `scalers` (standard/min_max/max_abs),
`imputer`, `linear` (logistic_regression, linear_regression), `trees` (decision trees, random
forests, gradient-boosted trees) and `xgboost_ops` (an XGBoost Booster held in the bundle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode

#: (node, frame columns) -> the columns the node adds
OpScorer = Callable[[MleapNode, dict[str, np.ndarray]], dict[str, np.ndarray]]

OPS: dict[str, OpScorer] = {}


class UnsupportedOp(WorkbenchError):
    """A bundle node whose MLeap op the native scorer does not implement (exit 2)."""

    kind = "unsupported-op"


def register(*names: str) -> Callable[[OpScorer], OpScorer]:
    """Register the decorated scorer under each MLeap op name in `names`."""

    def add(scorer: OpScorer) -> OpScorer:
        for name in names:
            if name in OPS and OPS[name] is not scorer:
                raise WorkbenchError(f"MLeap op {name!r} is registered twice")
            OPS[name] = scorer
        return scorer

    return add


def supported_ops() -> list[str]:
    """The op names the native scorer runs, sorted."""
    return sorted(OPS)


def scorer_for(node: MleapNode) -> OpScorer:
    """The scorer of `node`'s op; an unknown op is refused by name, listing the supported ones."""
    scorer = OPS.get(node.op)
    if scorer is None:
        raise UnsupportedOp(f"MLeap op {node.op!r} (node {node.name!r}) is not supported by the native scorer",
                            hint=f"supported ops: {', '.join(supported_ops())}")
    return scorer


def check_supported(nodes: Iterable[MleapNode]) -> None:
    """Refuse (before any row is scored) a pipeline holding an op the scorer does not run."""
    for node in nodes:
        scorer_for(node)


def score_nodes(nodes: Iterable[MleapNode], columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run `nodes` in order on `columns`; returns the frame with every node's outputs added."""
    frame = dict(columns)
    for node in nodes:
        frame.update(scorer_for(node)(node, frame))
    return frame


# the op families register themselves on import (after `register` exists)
from workbench.core.mleap.ops import (  # noqa: E402
    encoders,
    imputer,
    indexers,
    linear,
    scalers,
    trees,
    vectors,
    xgboost_ops,
)

__all__ = ["OPS", "OpScorer", "UnsupportedOp", "check_supported", "register", "score_nodes", "scorer_for",
           "supported_ops", "encoders", "imputer", "indexers", "linear", "scalers", "trees", "vectors",
           "xgboost_ops"]
