"""An MLeap pipeline plan as a PMML 4.4 document, written with xml.etree (no DOCTYPE).

Layout:
- `DataDictionary`: one DataField per column the pipeline reads (continuous double, or categorical
  string for string_indexer inputs) and the target (`prediction`: categorical integer 0..K-1 for
  classifiers, continuous double for regressors).
- `TransformationDictionary`: one DerivedField (double) per element of the model's feature vector and
  per shared sub-expression: string_indexer as `MapValues` (text -> index, unseen text -> the index
  handle_invalid gives), scalers as `Apply` "-", "/", "*", "+", one-hot as `Apply` "if"/"equal",
  binarizer "greaterThan", bucketizer a sum of "greaterOrEqual", imputer "isMissing", interaction and
  polynomial expansion products.
- The model: `RegressionModel` (linear regression; logistic regression with normalizationMethod
  "logit" (binary) or "softmax" (multinomial)), `TreeModel` (decision trees; `x <= t` goes left as in
  Spark), `MiningModel` segmentation for forests ("weightedAverage" of the trees' class distributions,
  "sum" of the pre-weighted regression trees) and GBT classifiers (a "modelChain": the sum of the trees
  as the margin, then a logit RegressionModel with coefficient 2 on it: p1 = 1 / (1 + exp(-2 margin))).
- `Output`: `probability(k)` for each class k of a classifier.
Every number is written with repr (shortest text that reads back as the same double).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.converters.from_mleap.plan import STRING, Expr, Plan, Tree, Unsupported

NS = "http://www.dmg.org/PMML-4_4"


def _num(v: float) -> str:
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _el(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})


class _Fields:
    def __init__(self, tdict: ET.Element) -> None:
        self.tdict = tdict
        self.memo: dict[Any, str] = {}
        self.n = 0

    def field(self, e: Expr) -> str:
        """The name of a field holding `e` (a DataField for inputs, else a new DerivedField)."""
        if e[0] == "in":
            return e[1]
        if e in self.memo:
            return self.memo[e]
        derived = ET.Element("DerivedField", {"name": f"mleap_f{self.n}", "optype": "continuous",
                                              "dataType": "double"})
        self.n += 1
        derived.append(self.expression(e))
        self.tdict.append(derived)
        self.memo[e] = derived.get("name")
        return self.memo[e]

    def ref(self, e: Expr) -> ET.Element:
        if e[0] == "const":
            return self.const(e[1])
        return ET.Element("FieldRef", {"field": self.field(e)})

    @staticmethod
    def const(v: float) -> ET.Element:
        c = ET.Element("Constant", {"dataType": "double"})
        c.text = _num(v)
        return c

    @staticmethod
    def apply(function: str, *args: ET.Element, **attrs: str) -> ET.Element:
        a = ET.Element("Apply", {"function": function, **attrs})
        a.extend(args)
        return a

    def expression(self, e: Expr) -> ET.Element:
        kind = e[0]
        if kind == "const":
            return self.const(e[1])
        if kind == "index":
            _, name, labels, unseen = e
            mv = ET.Element("MapValues", {"outputColumn": "index", "dataType": "double",
                                          "defaultValue": _num(unseen), "mapMissingTo": _num(unseen)})
            _el(mv, "FieldColumnPair", field=name, column="text")
            table = _el(mv, "InlineTable")
            for i, label in enumerate(labels):
                row = _el(table, "row")
                _el(row, "text").text = label
                _el(row, "index").text = str(i)
            return mv
        if kind == "scale":
            _, x, sub, div, mul, add = e
            out = self.ref(x)
            for fn, v, skip in (("-", sub, 0.0), ("/", div, 1.0), ("*", mul, 1.0), ("+", add, 0.0)):
                if v != skip:
                    out = self.apply(fn, out, self.const(v))
            return out
        if kind in ("eq", "gt"):
            test = self.apply("equal" if kind == "eq" else "greaterThan", self.ref(e[1]), self.const(e[2]))
            return self.apply("if", test, self.const(1.0), self.const(0.0))
        if kind == "bucket":
            _, x, splits, nan_bucket = e
            inner = splits[1:-1]
            if not inner:
                out = self.apply("*", self.ref(x), self.const(0.0))
            else:
                parts = [self.apply("if", self.apply("greaterOrEqual", self.ref(x), self.const(s)),
                                    self.const(1.0), self.const(0.0)) for s in inner]
                out = parts[0]
                for p in parts[1:]:
                    out = self.apply("+", out, p)
            if nan_bucket is not None:
                out.set("mapMissingTo", _num(nan_bucket))
            return out
        if kind == "impute":
            _, x, missing, surrogate = e
            test = self.apply("isMissing", self.ref(x))
            if not math.isnan(missing):
                test = self.apply("or", test, self.apply("equal", self.ref(x), self.const(missing)))
            return self.apply("if", test, self.const(surrogate), self.ref(x))
        if kind == "prod":
            out = self.ref(e[1][0])
            for f in e[1][1:]:
                out = self.apply("*", out, self.ref(f))
            return out
        raise ValueError(f"unknown expression {kind}")  # pragma: no cover


def check_pmml(plan: Plan) -> str | None:
    head = plan.head
    if head.post in ("sigmoid", "gbt") and head.threshold != 0.5:
        return (f"PMML: the {head.op} node's threshold {head.threshold!r} is not supported (PMML predicts the "
                "most probable class, i.e. threshold 0.5)")
    return None


def build_pmml(plan: Plan, description: str = "") -> ET.Element:
    why = check_pmml(plan)
    if why:
        raise Unsupported(why)
    ET.register_namespace("", NS)
    root = ET.Element("PMML", {"xmlns": NS, "version": "4.4"})
    header = _el(root, "Header", description=description or "MLeap pipeline converted by the Model Serving Workbench")
    _el(header, "Application", name="Model Serving Workbench (from_mleap)")
    head = plan.head
    dd = _el(root, "DataDictionary", numberOfFields=len(plan.columns) + 1)
    for name, kind in plan.columns:
        if kind == STRING:
            _el(dd, "DataField", name=name, optype="categorical", dataType="string")
        else:
            _el(dd, "DataField", name=name, optype="continuous", dataType="double")
    target = head.prediction
    if head.task == "classification":
        tf = _el(dd, "DataField", name=target, optype="categorical", dataType="integer")
        for k in range(head.n_classes):
            _el(tf, "Value", value=k)
    else:
        _el(dd, "DataField", name=target, optype="continuous", dataType="double")
    tdict = _el(root, "TransformationDictionary")
    fields = _Fields(tdict)
    feats = [fields.field(e) if e[0] != "const" else None for e in plan.features]
    consts = {i: e[1] for i, e in enumerate(plan.features) if e[0] == "const"}
    if consts:  # a constant feature (a zero-variance scaler column) still gets a field
        for i, v in consts.items():
            feats[i] = fields.field(("scale", ("const", v), 0.0, 1.0, 1.0, 0.0))
    function = "classification" if head.task == "classification" else "regression"
    if head.kind == "linear":
        model = _regression_model(root, plan, feats, function)
    elif len(head.trees) == 1 and head.post in ("value", "normalize"):
        model = _tree_model(root, plan, head.trees[0], feats, function, head.post == "normalize")
    else:
        model = _ensemble(root, plan, feats, function)
    del model
    return root


def _mining_schema(model: ET.Element, plan: Plan, with_target: bool = True) -> None:
    ms = _el(model, "MiningSchema")
    if with_target:
        _el(ms, "MiningField", name=plan.head.prediction, usageType="target")
    for name, _ in plan.columns:
        _el(ms, "MiningField", name=name)


def _probability_output(model: ET.Element, plan: Plan) -> None:
    out = _el(model, "Output")
    for k in range(plan.head.n_classes):
        _el(out, "OutputField", name=f"probability({k})", optype="continuous", dataType="double",
            feature="probability", value=k)


def _regression_model(parent: ET.Element, plan: Plan, feats: list[str], function: str) -> ET.Element:
    head = plan.head
    norm = {"value": "none", "sigmoid": "logit", "softmax": "softmax"}[head.post]
    model = _el(parent, "RegressionModel", functionName=function, normalizationMethod=norm,
                modelName=head.op)
    _mining_schema(model, plan)
    if function == "classification":
        _probability_output(model, plan)
    w, b = np.asarray(head.weights), np.asarray(head.bias)
    categories = [None] if function == "regression" else (["1"] if head.post == "sigmoid" else
                                                          [str(k) for k in range(head.n_classes)])
    for row, category in enumerate(categories):
        table = _el(model, "RegressionTable", intercept=_num(b[row]), targetCategory=category)
        for f, c in zip(feats, w[row], strict=True):
            if c != 0.0:
                _el(table, "NumericPredictor", name=f, coefficient=_num(c))
    if head.post == "sigmoid":
        _el(model, "RegressionTable", intercept="0", targetCategory="0")
    return model


def _nodes(parent: ET.Element, tree: Tree, feats: list[str], classes: int | None, i: int = 0,
           predicate: tuple[str, str, float] | None = None) -> None:
    node = _el(parent, "Node")
    if predicate is None:
        _el(node, "True")
    else:
        _el(node, "SimplePredicate", field=predicate[0], operator=predicate[1], value=_num(predicate[2]))
    if tree.left[i] < 0:
        values = tree.values[i]
        if classes is None:
            node.set("score", _num(values[0]))
        else:
            node.set("score", str(int(np.argmax(values))))
            for k in range(classes):
                _el(node, "ScoreDistribution", value=k, recordCount=_num(values[k]), probability=_num(values[k]))
        return
    f, t = feats[int(tree.feature[i])], float(tree.threshold[i])
    _nodes(node, tree, feats, classes, int(tree.left[i]), (f, "lessOrEqual", t))
    _nodes(node, tree, feats, classes, int(tree.right[i]), (f, "greaterThan", t))


def _tree_model(parent: ET.Element, plan: Plan, tree: Tree, feats: list[str], function: str,
                classification: bool, top: bool = True) -> ET.Element:
    model = _el(parent, "TreeModel", functionName=function, splitCharacteristic="binarySplit",
                missingValueStrategy="none", noTrueChildStrategy="returnNullPrediction")
    _mining_schema(model, plan, with_target=top)
    if classification and top:
        _probability_output(model, plan)
    _nodes(model, tree, feats, plan.head.n_classes if classification else None)
    return model


def _ensemble(parent: ET.Element, plan: Plan, feats: list[str], function: str) -> ET.Element:
    head = plan.head
    model = _el(parent, "MiningModel", functionName=function, modelName=head.op)
    _mining_schema(model, plan)
    if head.post == "normalize":  # forest classifier: weighted average of per-tree class distributions
        _probability_output(model, plan)
        seg = _el(model, "Segmentation", multipleModelMethod="weightedAverage")
        for i, (tree, w) in enumerate(zip(head.trees, head.tree_weights, strict=True)):
            if w == 0.0:
                continue
            probs = Tree(tree.feature, tree.threshold, tree.left, tree.right, tree.values / w)
            s = _el(seg, "Segment", id=i + 1, weight=_num(w))
            _el(s, "True")
            _tree_model(s, plan, probs, feats, "classification", True, top=False)
        return model
    if head.post == "value":
        _sum_segments(model, plan, feats)
        return model
    if head.post == "softmax":  # XGBoost multiclass: per-class sums of the trees, then softmax
        return _softmax_trees(model, plan, feats)
    # gbt classifier: margin (sum of weighted trees), then p1 = logit(2 * margin); the probabilities are
    # the chain's last model's outputs (JPMML reads none from the MiningModel of a model chain)
    chain = _el(model, "Segmentation", multipleModelMethod="modelChain")
    s1 = _el(chain, "Segment", id=1)
    _el(s1, "True")
    margin_model = _el(s1, "MiningModel", functionName="regression")
    _mining_schema(margin_model, plan, with_target=False)
    out = _el(margin_model, "Output")
    _el(out, "OutputField", name="gbt_margin", optype="continuous", dataType="double", feature="predictedValue")
    _sum_segments(margin_model, plan, feats, schema=False)
    s2 = _el(chain, "Segment", id=2)
    _el(s2, "True")
    logit = _el(s2, "RegressionModel", functionName="classification", normalizationMethod="logit")
    ms = _el(logit, "MiningSchema")
    _el(ms, "MiningField", name=head.prediction, usageType="target")
    _el(ms, "MiningField", name="gbt_margin")
    _probability_output(logit, plan)
    table = _el(logit, "RegressionTable", intercept="0", targetCategory="1")
    _el(table, "NumericPredictor", name="gbt_margin", coefficient="2")
    _el(logit, "RegressionTable", intercept="0", targetCategory="0")
    return model


def _sum_segments(model: ET.Element, plan: Plan, feats: list[str], schema: bool = True,
                  trees: list[Tree] | None = None) -> None:
    seg = _el(model, "Segmentation", multipleModelMethod="sum")
    for i, tree in enumerate(plan.head.trees if trees is None else trees):
        s = _el(seg, "Segment", id=i + 1)
        _el(s, "True")
        _tree_model(s, plan, tree, feats, "regression", False, top=False)


def _softmax_trees(model: ET.Element, plan: Plan, feats: list[str]) -> ET.Element:
    """A model chain: one summing MiningModel per class (its trees' column k, output margin_k), then a
    softmax RegressionModel over the margins."""
    head = plan.head
    chain = _el(model, "Segmentation", multipleModelMethod="modelChain")
    for k in range(head.n_classes):
        trees = [Tree(t.feature, t.threshold, t.left, t.right, t.values[:, k:k + 1]) for t in head.trees
                 if np.any(t.values[:, k] != 0.0)]
        seg = _el(chain, "Segment", id=k + 1)
        _el(seg, "True")
        margin_model = _el(seg, "MiningModel", functionName="regression")
        _mining_schema(margin_model, plan, with_target=False)
        out = _el(margin_model, "Output")
        _el(out, "OutputField", name=f"xgb_margin_{k}", optype="continuous", dataType="double",
            feature="predictedValue")
        _sum_segments(margin_model, plan, feats, schema=False, trees=trees or [head.trees[0]])
    last = _el(chain, "Segment", id=head.n_classes + 1)
    _el(last, "True")
    soft = _el(last, "RegressionModel", functionName="classification", normalizationMethod="softmax")
    ms = _el(soft, "MiningSchema")
    _el(ms, "MiningField", name=head.prediction, usageType="target")
    for k in range(head.n_classes):
        _el(ms, "MiningField", name=f"xgb_margin_{k}")
    _probability_output(soft, plan)
    for k in range(head.n_classes):
        table = _el(soft, "RegressionTable", intercept="0", targetCategory=k)
        _el(table, "NumericPredictor", name=f"xgb_margin_{k}", coefficient="1")
    return model


def write_pmml(plan: Plan, out: Path, description: str = "") -> Path:
    root = build_pmml(plan, description)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    Path(out).write_bytes(data)
    return Path(out)
