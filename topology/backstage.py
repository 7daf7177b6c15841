"""Backstage catalog entities (catalog-info.yaml) as topology.

| entity    | becomes                                                                     |
|-----------|-----------------------------------------------------------------------------|
| Component | node, kind `service`                                                        |
| Resource  | node, kind = `spec.type` (e.g. `database`), else `resource`                 |
| System    | node, kind `business_service`, depending on every Component/Resource whose  |
|           | `spec.system` names it; `spec.domain` becomes its partitioning domain       |
| API       | node, kind `api`, depending on the Components that `providesApis` it;       |
|           | a Component that `consumesApis` it depends on it                            |
| Group     | team; with a `correlator.io/users` head count also a `user_group` node      |
| User      | directory user, `spec.memberOf` its groups                                  |
| Domain, Location, Template, ... | nothing                                               |

Entity refs (`resource:default/crm-db`, `group:crm-team`, `crm-db`) become plain names: the
namespace is dropped, so names must be unique across namespaces. Annotations map onto node
fields: `correlator.io/site`, `correlator.io/criticality`, `correlator.io/users`,
`correlator.io/aliases` (comma separated), and also `correlator.io/kind`, `correlator.io/domain`,
`correlator.io/cost-per-user-hour`, `correlator.io/depends-on` (comma separated entity refs; the
way to say what a user group uses) and `correlator.io/contact` (a team's contact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topology.errors import Problem
from topology.parse import parse_document
from topology.schema import SourcedDocument

API_PREFIX = "backstage.io/"
ANNOTATION = "correlator.io/"


def is_catalog_entity(raw: Mapping[str, Any]) -> bool:
    api_version = raw.get("apiVersion")
    return isinstance(api_version, str) and api_version.startswith(API_PREFIX)


@dataclass(frozen=True, slots=True)
class Entity:
    source: str
    kind: str
    name: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    def annotation(self, key: str) -> str | None:
        annotations = self.metadata.get("annotations")
        if not isinstance(annotations, Mapping):
            return None
        value = annotations.get(ANNOTATION + key)
        return None if value is None else str(value)

    @property
    def title(self) -> str:
        title = self.metadata.get("title")
        return str(title) if title else self.name


def entity_name(ref: object) -> str:
    """`component:default/crm` -> `crm`; `group:crm-team` -> `crm-team`; `crm` -> `crm`."""
    text = str(ref)
    return text.split(":", 1)[-1].rsplit("/", 1)[-1]


def _refs(value: object) -> list[str]:
    if isinstance(value, str):
        return [entity_name(value)]
    if isinstance(value, list):
        return [entity_name(item) for item in value if item is not None]
    return []


def _comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def read_entity(raw: Mapping[str, Any], source: str) -> Entity | Problem:
    metadata = raw.get("metadata")
    kind = raw.get("kind")
    if not isinstance(metadata, Mapping) or not metadata.get("name") or not isinstance(kind, str):
        return Problem(source, None, "catalog entity without kind or metadata.name")
    spec = raw.get("spec")
    return Entity(
        source=source,
        kind=kind.lower(),
        name=str(metadata["name"]),
        metadata=metadata,
        spec=spec if isinstance(spec, Mapping) else {},
    )


def catalog_documents(entities: Sequence[Entity]) -> tuple[list[SourcedDocument], list[Problem]]:
    """Convert entities into one document per source file, resolving cross-file relations
    (systems and APIs) over all of them."""
    system_parts: dict[str, list[str]] = {}
    api_providers: dict[str, list[str]] = {}
    for entity in entities:
        if entity.kind in ("component", "resource") and entity.spec.get("system"):
            system_parts.setdefault(entity_name(entity.spec["system"]), []).append(entity.name)
        if entity.kind == "component":
            for api in _refs(entity.spec.get("providesApis")):
                api_providers.setdefault(api, []).append(entity.name)

    raw_by_source: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entity in entities:
        raw = raw_by_source.setdefault(entity.source, {"nodes": [], "teams": [], "users": []})
        if entity.kind == "component":
            depends = _refs(entity.spec.get("dependsOn")) + _refs(entity.spec.get("consumesApis"))
            raw["nodes"].append(_node(entity, "service", depends))
        elif entity.kind == "resource":
            kind = str(entity.spec.get("type") or "resource")
            raw["nodes"].append(_node(entity, kind, _refs(entity.spec.get("dependsOn"))))
        elif entity.kind == "system":
            depends = system_parts.get(entity.name, []) + _refs(entity.spec.get("dependsOn"))
            node = _node(entity, "business_service", depends)
            if entity.spec.get("domain") and "domain" not in node:
                node["domain"] = entity_name(entity.spec["domain"])
            raw["nodes"].append(node)
        elif entity.kind == "api":
            raw["nodes"].append(_node(entity, "api", api_providers.get(entity.name, [])))
        elif entity.kind == "group":
            raw["teams"].append(_team(entity))
            if entity.annotation("users") is not None:
                node = _node(entity, "user_group", _refs(entity.spec.get("dependsOn")))
                node.setdefault("owner", entity.name)
                raw["nodes"].append(node)
        elif entity.kind == "user":
            raw["users"].append(_user(entity))

    documents: list[SourcedDocument] = []
    problems: list[Problem] = []
    for source, raw in raw_by_source.items():
        document, found = parse_document(raw, source)
        documents.append(SourcedDocument(source=source, document=document))
        problems.extend(found)
    return documents, problems


def _profile(entity: Entity) -> Mapping[str, Any]:
    profile = entity.spec.get("profile")
    return profile if isinstance(profile, Mapping) else {}


def _node(entity: Entity, kind: str, depends_on: list[str]) -> dict[str, Any]:
    annotated = _comma_list(entity.annotation("depends-on"))
    node: dict[str, Any] = {
        "id": entity.name,
        "kind": entity.annotation("kind") or kind,
        "name": _profile(entity).get("displayName") or entity.title,
        "depends_on": list(dict.fromkeys(depends_on + _refs(annotated))),
    }
    if entity.spec.get("owner"):
        node["owner"] = entity_name(entity.spec["owner"])
    if entity.metadata.get("description"):
        node["description"] = str(entity.metadata["description"])
    for field, annotation in (
        ("site", "site"),
        ("criticality", "criticality"),
        ("users", "users"),
        ("domain", "domain"),
        ("cost_per_user_hour", "cost-per-user-hour"),
    ):
        value = entity.annotation(annotation)
        if value is not None:
            node[field] = value
    aliases = _comma_list(entity.annotation("aliases"))
    if aliases:
        node["aliases"] = aliases
    return node


def _team(entity: Entity) -> dict[str, Any]:
    profile = _profile(entity)
    return {
        "id": entity.name,
        "name": profile.get("displayName") or entity.title,
        "contact": entity.annotation("contact") or profile.get("email"),
    }


def _user(entity: Entity) -> dict[str, Any]:
    profile = _profile(entity)
    return {
        "id": entity.name,
        "name": profile.get("displayName") or entity.title,
        "email": profile.get("email"),
        "groups": _refs(entity.spec.get("memberOf")),
    }
