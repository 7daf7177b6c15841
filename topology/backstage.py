"""Backstage catalog entities (catalog-info.yaml, or the catalog API's entity list) as topology.

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

Ids keep the namespace: an entity's id is its `metadata.name` in the `default` namespace (so a
single-namespace catalog has the ids it always had, and alerts naming them still map) and
`<namespace>/<name>` elsewhere. References follow Backstage's rules: `[<kind>:][<namespace>/]<name>`
or the compound `{kind, namespace, name}`; a reference without a namespace is in the referring
entity's namespace (the descriptor format's "same as this entity" for every relation field); kind,
namespace and name compare case-insensitively, and a reference resolves to the id as its entity
writes it. Annotations map onto node fields: `correlator.io/site`, `correlator.io/criticality`,
`correlator.io/users`, `correlator.io/aliases` (comma separated), and also `correlator.io/kind`,
`correlator.io/domain`, `correlator.io/cost-per-user-hour`, `correlator.io/depends-on` (comma
separated entity refs; the way to say what a user group uses) and `correlator.io/contact` (a
team's contact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topology.errors import Problem
from topology.parse import is_native, parse_document
from topology.schema import SourcedDocument

API_PREFIX = "backstage.io/"
ANNOTATION = "correlator.io/"
DEFAULT_NAMESPACE = "default"


def is_catalog_entity(raw: Mapping[str, Any]) -> bool:
    api_version = raw.get("apiVersion")
    return isinstance(api_version, str) and api_version.startswith(API_PREFIX)


def catalog_response_items(raw: object) -> list[Any] | None:
    """The entities of a catalog API response, or None when `raw` is not one.

    `GET /api/catalog/entities` answers a JSON array of entities; `/entities/by-query` (and
    `by-refs`, whose misses are nulls) an object whose `items` holds them."""
    if isinstance(raw, list):
        return raw
    if (
        isinstance(raw, Mapping)
        and isinstance(raw.get("items"), list)
        and not is_native(raw)
        and not is_catalog_entity(raw)
    ):
        items: list[Any] = raw["items"]
        return items
    return None


def entity_id(namespace: str, name: str) -> str:
    return name if namespace.lower() == DEFAULT_NAMESPACE else f"{namespace}/{name}"


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str | None
    namespace: str | None
    name: str


def parse_ref(ref: object) -> Ref | None:
    """Backstage's parsing: the kind ends at the first `:`, the namespace at the first `/` after
    it (a `/` before any `:` makes the rest the name); or a compound `{kind, namespace, name}`."""
    if isinstance(ref, Mapping):
        name = ref.get("name")
        if not name:
            return None
        kind, namespace = ref.get("kind"), ref.get("namespace")
        return Ref(str(kind) if kind else None, str(namespace) if namespace else None, str(name))
    text = str(ref).strip()
    colon, slash = text.find(":"), text.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = text[:colon] if colon > 0 else None
    namespace = text[colon + 1 : slash] if slash > colon + 1 else None
    name = text[max(colon, slash) + 1 :]
    return Ref(kind, namespace, name) if name else None


@dataclass(frozen=True, slots=True)
class Entity:
    source: str
    kind: str
    namespace: str
    name: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def id(self) -> str:
        return entity_id(self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"

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


def read_entity(raw: Mapping[str, Any], source: str) -> Entity | Problem:
    metadata = raw.get("metadata")
    kind = raw.get("kind")
    if not isinstance(metadata, Mapping) or not metadata.get("name") or not isinstance(kind, str):
        return Problem(source, None, "catalog entity without kind or metadata.name")
    spec = raw.get("spec")
    return Entity(
        source=source,
        kind=kind.lower(),
        namespace=str(metadata.get("namespace") or DEFAULT_NAMESPACE),
        name=str(metadata["name"]),
        metadata=metadata,
        spec=spec if isinstance(spec, Mapping) else {},
    )


class Resolver:
    """Entity refs to ids, over every entity read (all files, all kinds)."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self._by_kind: dict[tuple[str, str, str], str] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        for entity in entities:
            namespace, name = entity.namespace.lower(), entity.name.lower()
            self._by_kind.setdefault((entity.kind, namespace, name), entity.id)
            self._by_name.setdefault((namespace, name), entity.id)

    def resolve(self, ref: object, namespace: str, default_kind: str | None = None) -> str | None:
        parsed = parse_ref(ref)
        if parsed is None:
            return None
        space = parsed.namespace or namespace
        key = (space.lower(), parsed.name.lower())
        kind = (parsed.kind or default_kind or "").lower()
        found = self._by_kind.get((kind, *key)) if kind else None
        # Unknown refs keep their spelling, so validation names what was written.
        return found or self._by_name.get(key) or entity_id(space, parsed.name)

    def refs(self, value: object, namespace: str, default_kind: str | None = None) -> list[str]:
        items = value if isinstance(value, list) else [value] if value else []
        resolved = (self.resolve(item, namespace, default_kind) for item in items if item)
        return [ref for ref in resolved if ref is not None]


def _comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _case_duplicates(entities: Sequence[Entity]) -> list[Problem]:
    # Backstage compares names case-insensitively; an exact duplicate is left to validation,
    # which refuses it for nodes, teams and users alike, naming both files.
    seen: dict[tuple[str, str, str], Entity] = {}
    problems: list[Problem] = []
    for entity in entities:
        key = (entity.kind, entity.namespace.lower(), entity.name.lower())
        first = seen.setdefault(key, entity)
        if first is not entity and first.id != entity.id:
            problems.append(
                Problem(
                    entity.source,
                    entity.id,
                    f"duplicate catalog entity {entity.ref} (names compare case-insensitively;"
                    f" first defined as {first.ref} in {first.source})",
                )
            )
    return problems


def catalog_documents(entities: Sequence[Entity]) -> tuple[list[SourcedDocument], list[Problem]]:
    """Convert entities into one document per source file, resolving cross-file relations
    (systems and APIs) over all of them."""
    resolver = Resolver(entities)
    system_parts: dict[str, list[str]] = {}
    api_providers: dict[str, list[str]] = {}
    for entity in entities:
        space = entity.namespace
        if entity.kind in ("component", "resource") and entity.spec.get("system"):
            system = resolver.resolve(entity.spec["system"], space, "system")
            if system is not None:
                system_parts.setdefault(system, []).append(entity.id)
        if entity.kind == "component":
            for api in resolver.refs(entity.spec.get("providesApis"), space, "api"):
                api_providers.setdefault(api, []).append(entity.id)

    raw_by_source: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entity in entities:
        raw = raw_by_source.setdefault(entity.source, {"nodes": [], "teams": [], "users": []})
        space = entity.namespace
        depends = resolver.refs(entity.spec.get("dependsOn"), space)
        if entity.kind == "component":
            depends += resolver.refs(entity.spec.get("consumesApis"), space, "api")
            raw["nodes"].append(_node(entity, resolver, "service", depends))
        elif entity.kind == "resource":
            kind = str(entity.spec.get("type") or "resource")
            raw["nodes"].append(_node(entity, resolver, kind, depends))
        elif entity.kind == "system":
            parts = system_parts.get(entity.id, [])
            node = _node(entity, resolver, "business_service", parts + depends)
            domain = resolver.resolve(entity.spec.get("domain") or "", space, "domain")
            if domain and "domain" not in node:
                node["domain"] = domain
            raw["nodes"].append(node)
        elif entity.kind == "api":
            raw["nodes"].append(_node(entity, resolver, "api", api_providers.get(entity.id, [])))
        elif entity.kind == "group":
            raw["teams"].append(_team(entity))
            if entity.annotation("users") is not None:
                node = _node(entity, resolver, "user_group", depends)
                node.setdefault("owner", entity.id)
                raw["nodes"].append(node)
        elif entity.kind == "user":
            raw["users"].append(_user(entity, resolver))

    documents: list[SourcedDocument] = []
    problems = _case_duplicates(entities)
    for source, raw in raw_by_source.items():
        document, found = parse_document(raw, source)
        documents.append(SourcedDocument(source=source, document=document))
        problems.extend(found)
    return documents, problems


def _profile(entity: Entity) -> Mapping[str, Any]:
    profile = entity.spec.get("profile")
    return profile if isinstance(profile, Mapping) else {}


def _node(entity: Entity, resolver: Resolver, kind: str, depends_on: list[str]) -> dict[str, Any]:
    annotated = resolver.refs(_comma_list(entity.annotation("depends-on")), entity.namespace)
    node: dict[str, Any] = {
        "id": entity.id,
        "kind": entity.annotation("kind") or kind,
        "name": _profile(entity).get("displayName") or entity.title,
        "depends_on": list(dict.fromkeys(depends_on + annotated)),
    }
    owner = resolver.resolve(entity.spec.get("owner") or "", entity.namespace, "group")
    if owner:
        node["owner"] = owner
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
        "id": entity.id,
        "name": profile.get("displayName") or entity.title,
        "contact": entity.annotation("contact") or profile.get("email"),
    }


def _user(entity: Entity, resolver: Resolver) -> dict[str, Any]:
    profile = _profile(entity)
    return {
        "id": entity.id,
        "name": profile.get("displayName") or entity.title,
        "email": profile.get("email"),
        "groups": resolver.refs(entity.spec.get("memberOf"), entity.namespace, "group"),
    }
