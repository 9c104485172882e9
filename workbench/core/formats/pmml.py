"""Format `pmml`: PMML 3.x and 4.x documents. Parsed with defusedxml (no external entities, no DTDs).

A document with any DOCTYPE is refused before it reaches a parser or an engine: an external DTD
(`<!DOCTYPE PMML SYSTEM "http://...">`) makes Java XML parsers fetch the URL, and parameter entities in it
can send local files out. PMML needs no DTD. The JVMs of the PMML engines also start with the XML
parsers' external access switched off (JVM_XML_OPTIONS), in case a file changes after it was checked.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe
from workbench.core.formats.common import file_facts
from workbench.core.types import ModelInfo, TensorSpec

_ROOT = re.compile(rb"<(?:\w+:)?PMML[\s>]")
PMML_DTYPES = {"double": "float64", "float": "float32", "integer": "int64", "string": "string",
               "boolean": "bool", "date": "string", "time": "string", "dateTime": "string"}
_MODEL_TAGS = ("AssociationModel", "AnomalyDetectionModel", "BayesianNetworkModel", "BaselineModel",
               "ClusteringModel", "GaussianProcessModel", "GeneralRegressionModel", "MiningModel",
               "NaiveBayesModel", "NearestNeighborModel", "NeuralNetwork", "RegressionModel", "RuleSetModel",
               "SequenceModel", "Scorecard", "SupportVectorMachineModel", "TextModel", "TimeSeriesModel",
               "TreeModel")


#: system properties for every JVM that parses PMML (pypmml's py4j gateway, JPype's JVM for JPMML): no
#: external DTD, schema or stylesheet is fetched (no protocol allowed), and entity expansion is bounded
JVM_XML_OPTIONS: tuple[str, ...] = (
    "-Djavax.xml.accessExternalDTD=",
    "-Djavax.xml.accessExternalSchema=",
    "-Djavax.xml.accessExternalStylesheet=",
    "-Djdk.xml.dtd.support=deny",  # JDK 22+: refuse any DTD (older JDKs ignore it)
    "-Djdk.xml.entityExpansionLimit=1000",
    "-Djdk.xml.maxGeneralEntitySizeLimit=65536",
    "-Djdk.xml.maxParameterEntitySizeLimit=65536",
    "-Djdk.xml.totalEntitySizeLimit=1000000",
    "-Djdk.xml.entityReplacementLimit=100000",
    "-Djdk.xml.maxElementDepth=10000",
    "-Djdk.xml.maxXMLNameLimit=10000",
)

#: "<!DOCTYPE" or "<!ENTITY", any case, also in UTF-16/32 (NUL bytes between the characters)
_DECLARATION = re.compile(b"<\\x00*!\\x00*(?:" + b"|".join(
    b"\\x00*".join(b"[" + bytes([c]) + bytes([c]).lower() + b"]" for c in word)
    for word in (b"DOCTYPE", b"ENTITY")) + b")")
_CHUNK = 1 << 20


def _declaration_in(data: bytes) -> bool:
    return bool(_DECLARATION.search(data))


def refuse_declarations(path: Path) -> None:
    """CorruptModel when the raw bytes hold a DOCTYPE or ENTITY declaration anywhere (checked on the
    bytes, before any XML parser or PMML engine sees the file)."""
    tail = b""
    with open(path, "rb") as fh:
        read = 0
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                return
            read += len(chunk)
            limits.MODEL_FILE_BYTES.check(read, source=path.name)
            if _declaration_in(tail + chunk):
                raise _refused(path)
            tail = chunk[-64:]


def _refused(path: Path) -> CorruptModel:
    return CorruptModel(str(path), f"{path.name}: refused: the PMML declares a DOCTYPE or ENTITY (entities/DTDs "
                        "are not allowed in a model file: a DTD can make a PMML engine fetch a URL or read "
                        "local files, and PMML needs none)",
                        hint="remove the <!DOCTYPE ...> declaration if you trust the file")


def match(probe: Probe) -> bool:
    if probe.is_dir:
        return False
    head = probe.head.lstrip(b"\xef\xbb\xbf \t\r\n")
    found = head.startswith(b"<") and bool(_ROOT.search(head[:4096]))
    if found and _declaration_in(head):
        raise _refused(probe.path)
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def parse(path: Path) -> Element:
    """Parse the document safely; damaged XML becomes CorruptModel."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    refuse_declarations(path)
    try:
        return SafeET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as exc:
        raise CorruptModel(str(path), f"{path.name}: refused: the XML uses {type(exc).__name__} "
                           "(entities/DTDs are not allowed in a model file)") from None
    except SafeET.ParseError as exc:
        line, column = exc.position
        raise CorruptModel(str(path), f"{path.name}: damaged PMML file: malformed or truncated PMML (XML error at "
                           f"line {line}, column {column}: {str(exc).split(':')[0]})") from None
    except LookupError as exc:  # <?xml encoding="x-unknown"?>
        raise CorruptModel(str(path), f"{path.name}: damaged PMML file: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise CorruptModel(str(path), f"{path.name}: damaged PMML file: {type(exc).__name__}: {exc}") from None


def _damaged(path: Path, what: str) -> CorruptModel:
    return CorruptModel(str(path), f"{path.name}: damaged PMML file: {what}")


def _number(path: Path, value: str | None, what: str) -> float:
    try:
        return float(value) if value is not None else math.nan
    except ValueError:
        raise _damaged(path, f"{what} {value!r} is not a number") from None


def inspect(path: Path, trust: bool) -> ModelInfo:
    root = parse(path)
    if _local(root.tag) != "PMML":
        raise CorruptModel(str(path), f"{path.name}: XML whose root is <{_local(root.tag)}>, not <PMML>")
    version = root.get("version", "")
    header = _child(root, "Header")
    app = _child(header, "Application") if header is not None else None
    fields: dict[str, dict[str, Any]] = {}
    dictionary = _child(root, "DataDictionary")
    for field in _children(dictionary, "DataField") if dictionary is not None else []:
        values = [v.get("value") for v in _children(field, "Value") if v.get("property", "valid") == "valid"]
        interval = _child(field, "Interval")
        fields[field.get("name", "")] = {
            "optype": field.get("optype"), "dataType": field.get("dataType"),
            "values": values or None,
            "interval": ([_number(path, interval.get("leftMargin", "nan"), "Interval leftMargin"),
                          _number(path, interval.get("rightMargin", "nan"), "Interval rightMargin")]
                         if interval is not None else None),
        }
    model = next((child for child in root if _local(child.tag) in _MODEL_TAGS), None)
    if model is None:
        raise CorruptModel(str(path), f"{path.name}: a PMML document without a model element "
                           f"(expected one of {', '.join(_MODEL_TAGS[:4])}, ...)")
    mining = _child(model, "MiningSchema")
    mining_fields = [{"name": f.get("name"), "usageType": f.get("usageType", "active"),
                      "missingValueReplacement": f.get("missingValueReplacement"),
                      "invalidValueTreatment": f.get("invalidValueTreatment")}
                     for f in (_children(mining, "MiningField") if mining is not None else [])]
    inputs, targets = [], []
    # decision trees (alone or in an ensemble) have a defined answer for a missing value (a default child,
    # a missing-value strategy): an all-missing row is valid input there, as in the tree library itself
    trees = _local(model.tag) == "TreeModel" or any(_local(e.tag) == "TreeModel" for e in model.iter())
    for mf in mining_fields:
        name = mf["name"] or ""
        field = fields.get(name, {})
        if mf["usageType"] in ("target", "predicted"):
            targets.append(name)
            continue
        if mf["usageType"] != "active":
            continue
        categories = field.get("values")
        dtype = PMML_DTYPES.get(field.get("dataType") or "double", "float64")
        if categories is not None and dtype != "string":
            categories = [_typed(v, dtype, path) for v in categories]
        inputs.append(TensorSpec(name, dtype, (None,),
                                 categories=tuple(categories) if categories else None,
                                 value_range=tuple(field["interval"]) if field.get("interval") else None,
                                 accepts_missing=trees or mf["missingValueReplacement"] is not None))
    function = model.get("functionName", "")
    task = {"classification": "classification", "regression": "regression"}.get(function, "other")
    classes = None
    if task == "classification" and targets:
        target_field = fields.get(targets[0], {})
        dtype = PMML_DTYPES.get(target_field.get("dataType") or "string", "string")
        classes = [_typed(v, dtype, path) for v in target_field.get("values") or []] or None
    output = _child(model, "Output")
    output_fields = [{"name": o.get("name"), "feature": o.get("feature", "predictedValue"),
                      "value": o.get("value"), "dataType": o.get("dataType")}
                     for o in (_children(output, "OutputField") if output is not None else [])]
    outputs = [TensorSpec(t, PMML_DTYPES.get(fields.get(t, {}).get("dataType") or "double", "float64"), (None,))
               for t in targets]
    outputs += [TensorSpec(o["name"] or "", PMML_DTYPES.get(o["dataType"] or "double", "float64"), (None,))
                for o in output_fields]
    metadata: dict[str, Any] = {
        "pmml_version": version, "model_type": _local(model.tag), "function_name": function,
        "algorithm": model.get("algorithmName"), "application": app.get("name") if app is not None else None,
        "application_version": app.get("version") if app is not None else None,
        "data_dictionary": fields, "mining_schema": mining_fields, "output_fields": output_fields,
        "targets": targets, "feature_count": len(inputs),
        "has_model_verification": _child(model, "ModelVerification") is not None,
    }
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="pmml", framework=(app.get("name") if app is not None else "PMML")
                     or "PMML", framework_version=(app.get("version") if app is not None else None),
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata, loaded=True)


def _typed(value: str | None, dtype: str, path: Path | None = None) -> Any:
    if value is None:
        return None
    try:
        if dtype.startswith("int"):
            return int(float(value))
        if dtype.startswith("float"):
            return float(value)
    except ValueError:
        return value
    except OverflowError:  # int(float("inf")): an integer value that is not finite
        if path is None:
            return value
        raise _damaged(path, f"the integer value {value!r} is not finite") from None
    return value


FORMAT = ModelFormat(name="pmml", title="PMML document", extensions=(".pmml", ".xml"), match=match,
                     inspect=inspect, load=None, priority=20, frameworks=("pmml",))
