"""The parsed form of an MLeap Bundle.ML, shared by the reader, the scorer and the converters.

A bundle is `bundle.json` (uid, name, format "json" or "protobuf"... ), then `root/` holding the root node's
`model.json` (its op and attributes) and `node.json` (its name and shape: the input and output fields it
reads and writes, each bound to a port). A pipeline's `model.json` lists its child nodes, each in
`root/<child>.node/` with the same two files. The reader flattens nested pipelines into `nodes`, in
execution order, and decodes every attribute into plain Python / numpy values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Port:
    """One binding of a node's shape: `port` (e.g. "input", "features", "prediction", "probability",
    "raw_prediction") to the frame field `name` it reads or writes."""

    port: str
    name: str


@dataclass(frozen=True)
class MleapNode:
    """One transformer of the pipeline: its MLeap op name (e.g. "string_indexer", "logistic_regression"),
    its node name, its input and output fields, and its decoded attributes.

    Attribute values are decoded from MLeap's typed values: scalars become bool/int/float/str; lists
    become lists; tensors become numpy arrays of their base type and dimensions; nested models (a tree's
    nodes, a forest's trees) become dicts. `children` holds the nodes a model node owns (the trees of a
    forest, e.g. "tree0"), each an `MleapNode` with its own attributes.
    """

    name: str
    op: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    children: tuple[MleapNode, ...] = ()
    #: where the node's files are inside the bundle (e.g. "root/lr_1.node", "root/rf.node/tree0"); optional
    folder: str = ""

    def input(self, port: str) -> str | None:
        return next((p.name for p in self.inputs if p.port == port), None)

    def output(self, port: str) -> str | None:
        return next((p.name for p in self.outputs if p.port == port), None)


@dataclass(frozen=True)
class MleapBundle:
    """A whole bundle: where it came from, its header, and its nodes in execution order."""

    path: Path
    name: str
    #: "json" or "protobuf": how the bundle's model files are serialized
    serialization: str
    #: the MLeap version that wrote it (bundle.json "version")
    mleap_version: str
    nodes: tuple[MleapNode, ...]
    #: bundle.json as read (uid, timestamp, ...)
    header: dict[str, Any] = field(default_factory=dict)
