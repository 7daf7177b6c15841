"""Loading a topology from files: YAML or JSON, one file or a directory tree of them, native
format and Backstage catalog entities mixed freely. A JSON file may also hold a response of
Backstage's catalog API (`/api/catalog/entities`, `.../by-query`): its entities are read as if
each were a document of the file.

A directory is read recursively in sorted path order (hidden files and directories skipped) and
merged: lists are concatenated in that order, which is the "load order" that `Topology.match`
honours; `defaults` may come from at most one file. Every YAML file may hold several documents.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from topology.backstage import (
    Entity,
    catalog_documents,
    catalog_response_items,
    is_catalog_entity,
    read_entity,
)
from topology.errors import Problem, TopologyError
from topology.graph import Topology
from topology.parse import is_native, parse_document
from topology.schema import SourcedDocument, TopologyDocument

SUFFIXES = (".yaml", ".yml", ".json")
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EXAMPLES = Path(__file__).resolve().parent / "examples"


def example_topology_path() -> Path:
    """The bundled demo organisation (a directory of YAML files)."""
    return EXAMPLES


def load_example() -> Topology:
    return load_topology(EXAMPLES)


def load_topology(path: str | Path) -> Topology:
    """Read, validate and compile the topology at `path`; raises `TopologyError` listing every
    problem found, each naming its file and node."""
    return _build(read_documents(path))


def load_document(document: TopologyDocument, source: str = "<memory>") -> Topology:
    """Build a topology from an in-memory document (a generated one, say) the way
    `load_topology` builds a file: collector off while building, frozen after."""
    return _build([SourcedDocument(source=source, document=document)])


def _build(documents: Sequence[SourcedDocument]) -> Topology:
    # Collections during the build would walk the half-built graph over and over for nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        topology = Topology(documents)
    finally:
        if was_enabled:
            gc.enable()
    # The topology lives until the next reload: moving it (and everything else alive now) out of
    # the collector's generations keeps later collections from walking it again and again.
    # A replaced topology is still freed by reference counting: it holds no reference cycles.
    gc.freeze()
    return topology


def read_documents(path: str | Path) -> list[SourcedDocument]:
    """The documents at `path`, in load order; raises `TopologyError` on unreadable content."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            (
                file
                for file in root.rglob("*")
                if file.is_file()
                and file.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in file.relative_to(root).parts)
            ),
            key=lambda file: file.relative_to(root).as_posix(),
        )
    elif root.is_file():
        files = [root]
    else:
        raise TopologyError([Problem(str(root), None, "no such file or directory")])

    problems: list[Problem] = []
    documents: list[SourcedDocument] = []
    entities: list[Entity] = []
    for file in files:
        source = str(file)
        for raw in _read_file(file, problems):
            if raw is None:
                continue
            if not isinstance(raw, dict):
                problems.append(Problem(source, None, "a document must be a mapping"))
            elif is_catalog_entity(raw):
                entity = read_entity(raw, source)
                if isinstance(entity, Problem):
                    problems.append(entity)
                else:
                    entities.append(entity)
            elif is_native(raw):
                document, found = parse_document(raw, source)
                documents.append(SourcedDocument(source=source, document=document))
                problems.extend(found)
            elif root.is_file():
                problems.append(Problem(source, None, "no topology content (nodes, sites, ...)"))
            # In a directory, unrelated YAML (a kustomization, say) is left alone.
    if entities:
        catalog, found = catalog_documents(entities)
        documents.extend(catalog)
        problems.extend(found)
    if problems:
        raise TopologyError(problems)
    if not any(sourced.document.nodes or sourced.document.links for sourced in documents):
        raise TopologyError([Problem(str(root), None, "no nodes found")])
    return documents


def _read_file(file: Path, problems: list[Problem]) -> list[Any]:
    try:
        text = file.read_bytes()
        if file.suffix.lower() == ".json":
            raw = orjson.loads(text)
            items = catalog_response_items(raw)
            return [raw] if items is None else items
        # libyaml's loader is an order of magnitude faster on large files; same safe subset.
        return list(yaml.load_all(text, Loader=_SafeLoader))
    except (OSError, orjson.JSONDecodeError, yaml.YAMLError) as error:
        problems.append(Problem(str(file), None, f"cannot read: {error}"))
        return []
