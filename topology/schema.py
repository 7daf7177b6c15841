"""The topology file format (docs/formats.md, topology) as pydantic v2 models.

Every model ignores keys it does not know, so a file written for a newer version of the format
still loads here (forward compatibility). Sequences are tuples and models are frozen: the compiled
`Topology` hands these objects out and nobody downstream may change them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Criticality = Literal["low", "medium", "high", "critical"]
CRITICALITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


class _Model(BaseModel):
    # coerce_numbers_to_str: YAML reads `id: 1234` or `{port: 9100}` as ints; they are names here.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Site(_Model):
    """An office or a data centre."""

    id: str = Field(min_length=1)
    name: str | None = None
    kind: str | None = None
    """Free text, e.g. `office` or `datacentre`."""


class Link(_Model):
    """A network link between two sites (undirected). Links are also nodes of kind `link`."""

    id: str = Field(min_length=1)
    between: tuple[str, str]
    owner: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] = ()
    criticality: Criticality = "high"
    """A WAN link usually carries a whole site's traffic, hence `high` unless told otherwise."""
    match: tuple[dict[str, str], ...] = ()
    description: str | None = None

    @field_validator("criticality", mode="before")
    @classmethod
    def _lower_criticality(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Team(_Model):
    """A resolver group: it gets the incident when one of its nodes is the root cause."""

    id: str = Field(min_length=1)
    name: str | None = None
    contact: str | None = None


class AnyOf(_Model):
    """A redundancy group: the dependency holds while at least `min_healthy` members are up."""

    any_of: tuple[str, ...]
    # Range is checked by validate.py rather than here, so the error can name the node.
    min_healthy: int = 1


Dependency = str | AnyOf


class Node(_Model):
    """Anything that can fail or be affected: a service, a host, a database, a user group..."""

    id: str = Field(min_length=1)
    kind: str = "service"
    name: str | None = None
    owner: str | None = None
    site: str | None = None
    criticality: Criticality = "medium"
    aliases: tuple[str, ...] = ()
    match: tuple[dict[str, str], ...] = ()
    """Label selectors: all pairs of one selector must hold; any selector of the list may hit."""
    depends_on: tuple[Dependency, ...] = ()
    users: int = Field(default=0, ge=0)
    """Head count, for user groups."""
    cost_per_user_hour: float | None = Field(default=None, ge=0)
    domain: str | None = None
    """An explicit partitioning domain (scale-out); see `Topology.domain_of`."""
    description: str | None = None

    @field_validator("criticality", mode="before")
    @classmethod
    def _lower_criticality(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class User(_Model):
    """A person in the optional directory, for "is this caller affected?"."""

    id: str = Field(min_length=1)
    name: str | None = None
    email: str | None = None
    groups: tuple[str, ...] = ()


class Defaults(_Model):
    cost_per_user_hour: float = Field(default=60.0, ge=0)
    currency: str = "USD"


class TopologyDocument(_Model):
    """One file's worth of topology, or several merged."""

    sites: tuple[Site, ...] = ()
    links: tuple[Link, ...] = ()
    teams: tuple[Team, ...] = ()
    nodes: tuple[Node, ...] = ()
    users: tuple[User, ...] = ()
    defaults: Defaults | None = None
    """None when the file does not say; at most one file of a directory may say."""


SECTIONS: dict[str, type[_Model]] = {
    "sites": Site,
    "links": Link,
    "teams": Team,
    "nodes": Node,
    "users": User,
}
"""The list-valued sections of a document and the model of one entry."""


class SourcedDocument(_Model):
    """A document and the file it came from, so that problems can name the file."""

    source: str
    document: TopologyDocument
