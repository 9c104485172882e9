"""PMML engine results -> `PredictionBatch`, shared by the `jpmml` and `pmml4s` runtimes.

Both engines hand back named columns: the PMML Output fields (`probability(x)` per class, a
predicted value) and, for JPMML, the target field itself. Probability columns are found from the
Output fields' `feature="probability"` and `value`, else from their names; labels are the
predicted/target column, else the arg-max of the probabilities (pypmml gives no label column
for sklearn2pmml classifiers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.predictions import PredictionBatch, canonical_label, labels_from_probabilities

PROB_COLUMN = re.compile(r"^probability[(_](.+?)\)?$")

#: (name, result feature, value) of one PMML Output field, e.g. ("probability(1)", "probability", "1")
OutputField = tuple[str, str, Any]


def probability_columns(output_fields: Sequence[OutputField], columns: Sequence[str]) -> dict[str, str]:
    """Canonical class label -> the result column holding its probability."""
    found = {canonical_label(value): name for name, feature, value in output_fields
             if feature.lower() == "probability" and value is not None and name in columns}
    if not found:
        for name in columns:
            m = PROB_COLUMN.match(name)
            if m:
                found[canonical_label(m.group(1))] = name
    return found


def floats(values: Sequence[Any]) -> np.ndarray:
    """Engine values (None for a missing result) as float64 with NaN."""
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def labels_like(values: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    """Labels as the model's typed class values where they match (PMML engines often give text)."""
    by_label = {canonical_label(c): c for c in classes}
    return np.asarray([by_label.get(canonical_label(v), v) if v is not None else None for v in values],
                      dtype=object)


def argmax_labels(probs: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """Arg-max labels; None for rows the engine gave no probabilities for."""
    labels = labels_from_probabilities(np.nan_to_num(probs, nan=-1.0), list(classes))
    labels[np.isnan(probs).all(axis=1)] = None
    return labels


def pmml_batch(runtime: str, columns: dict[str, list[Any]], rows: int, *, classification: bool,
               output_fields: Sequence[OutputField], classes: Sequence[Any] | None,
               label_column: str | None, value_columns: Sequence[str] = ()) -> PredictionBatch:
    """Normalise one engine's result columns.

    `classes` are the model's class labels in order (None: from the probability columns);
    `label_column` holds the predicted label or value; `value_columns` are fallbacks for a
    regression value.
    """
    short = {name: len(values) for name, values in columns.items() if len(values) != rows}
    if short:  # never shift predictions against their rows: an engine that skipped a row is an error
        name, got = next(iter(short.items()))
        raise WorkbenchError(f"{runtime} returned {got} results in {name!r} for {rows} rows: the predictions "
                             "cannot be matched to their rows", hint="report the rows file and the PMML file")
    outputs = {name: np.asarray(values, dtype=object) for name, values in columns.items()}
    batch = PredictionBatch(runtime=runtime, outputs=outputs)
    if classification:
        prob_cols = probability_columns(output_fields, list(columns))
        classes = list(classes) if classes else list(prob_cols)
        batch.classes = classes
        if prob_cols:
            probs = np.full((rows, len(classes)), np.nan)
            for j, cls in enumerate(classes):
                col = prob_cols.get(canonical_label(cls))
                if col is not None:
                    probs[:, j] = floats(columns[col])
            batch.probabilities = probs
        if label_column is not None and label_column in columns:
            batch.labels = labels_like(columns[label_column], classes)
        elif batch.probabilities is not None:
            batch.labels = argmax_labels(batch.probabilities, classes)
        else:
            batch.warnings.append(f"{runtime} gives no predicted label and no probabilities for this PMML (its "
                                  f"outputs: {', '.join(columns) or 'none'}): the labels are unknown")
        return batch
    # the same output plays "value" whichever engine runs the file: an anomaly model's decision function
    # (scikit-learn's decision_function), not JPMML's target field (IsolationForest's raw path length)
    decision = [name for name, _, _ in output_fields if name == "decisionFunction" and name in columns]
    candidates = [c for c in (*decision, label_column, *value_columns) if c is not None and c in columns]
    value_col = candidates[0] if candidates else next(iter(columns), None)
    if value_col is not None:
        batch.values = floats(columns[value_col])
    return batch
