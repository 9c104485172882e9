"""Feature rows: read them from CSV/JSON, fit them to a model's inputs, or make them up.

`read_rows` keeps every CSV cell as text, so that `prepare_rows` can report each bad cell with the
value the user wrote. `prepare_rows` maps columns to `ModelInfo.inputs` by name, coerces each value
to the input's dtype, and raises one `InputRowsError` listing every problem at once.

An input is either one column per row (shape `(None,)` or `(None, 1)`, the usual case for
scikit-learn and PMML models), or a tensor of k features per row (shape `(None, k)`, the usual case
for ONNX and Keras models), which takes k columns. The prepared frame records which columns feed
which input in `frame.attrs["workbench_layout"]`; `input_arrays` turns it into the arrays a runtime
feeds.

One job per module: `reading` (files to frames), `layout` (columns to inputs), `coercion` (cells to
dtypes), `categories` (unknown categorical levels), `preparing` (`prepare_rows`), `feeds` (frames to
the arrays a runtime feeds), `generating` (`generate_rows`); `dtypes` holds the dtype names they
share. Everything public is re-exported here: import from `workbench.core.rows`.
"""

from __future__ import annotations

from workbench.core.rows.categories import (
    MAX_CATEGORY_WARNINGS,
    SHOWN_LEVELS,
    SHOWN_ROWS,
    UnknownCategory,
    category_warnings,
    natural_level,
    rejects_unknown_categories,
    unknown_categories,
)
from workbench.core.rows.coercion import MISSING_TOKENS, CellProblem, coerce_column
from workbench.core.rows.feeds import FeedPlan, FeedPlans, column_values, feed_plan, input_arrays
from workbench.core.rows.generating import TYPICAL_SPREAD, generate_rows
from workbench.core.rows.layout import (
    LAYOUT_ATTR,
    feature_names,
    input_width,
    is_tensor_input,
    layout_of,
    plan_layout,
)
from workbench.core.rows.preparing import MESSAGE_PROBLEMS, prepare_rows
from workbench.core.rows.reading import OTHER_SEPARATORS, read_rows, separator_hint

__all__ = [
    "LAYOUT_ATTR",
    "MAX_CATEGORY_WARNINGS",
    "MESSAGE_PROBLEMS",
    "MISSING_TOKENS",
    "OTHER_SEPARATORS",
    "SHOWN_LEVELS",
    "SHOWN_ROWS",
    "TYPICAL_SPREAD",
    "CellProblem",
    "FeedPlan",
    "FeedPlans",
    "UnknownCategory",
    "category_warnings",
    "coerce_column",
    "column_values",
    "feature_names",
    "feed_plan",
    "generate_rows",
    "input_arrays",
    "input_width",
    "is_tensor_input",
    "layout_of",
    "natural_level",
    "plan_layout",
    "prepare_rows",
    "read_rows",
    "rejects_unknown_categories",
    "separator_hint",
    "unknown_categories",
]
