"""Raw mappings (from YAML or JSON) into schema models, one object at a time.

Objects are validated one by one rather than the document at once, so a bad entry costs only
itself: the load carries on and reports every problem, each naming its file and object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from topology.errors import Problem
from topology.schema import SECTIONS, Defaults, TopologyDocument

TOPOLOGY_KEYS = frozenset([*SECTIONS, "defaults"])


def is_native(raw: Mapping[str, Any]) -> bool:
    """Whether a mapping looks like a native topology document (has any of its sections)."""
    return not TOPOLOGY_KEYS.isdisjoint(raw)


def parse_document(raw: Mapping[str, Any], source: str) -> tuple[TopologyDocument, list[Problem]]:
    try:
        # The common case, a valid file, in one call into pydantic-core: several times faster
        # than entry by entry on a 100k-node file.
        return TopologyDocument.model_validate(raw), []
    except ValidationError:
        pass
    problems: list[Problem] = []
    sections: dict[str, list[BaseModel]] = {}
    for section, model in SECTIONS.items():
        items = raw.get(section)
        parsed: list[BaseModel] = []
        sections[section] = parsed
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(Problem(source, None, f"{section} must be a list"))
            continue
        for position, item in enumerate(items):
            if not isinstance(item, Mapping):
                problems.append(Problem(source, None, f"{section}[{position}] must be a mapping"))
                continue
            try:
                parsed.append(model.model_validate(item))
            except ValidationError as error:
                problems.extend(_problems(error, source, section, position, item))

    defaults: Defaults | None = None
    if raw.get("defaults") is not None:
        try:
            defaults = Defaults.model_validate(raw["defaults"])
        except ValidationError as error:
            problems.extend(_problems(error, source, "defaults", None, {}))
    # The entries are validated already; model_construct skips doing it a second time.
    fields: dict[str, Any] = {name: tuple(items) for name, items in sections.items()}
    document = TopologyDocument.model_construct(**fields, defaults=defaults)
    return document, problems


def _problems(
    error: ValidationError,
    source: str,
    section: str,
    position: int | None,
    item: Mapping[str, Any],
) -> list[Problem]:
    raw_id = item.get("id")
    node = str(raw_id) if raw_id is not None and section in ("nodes", "links") else None
    where = section if position is None else f"{section}[{position}]"
    if node is None and raw_id is not None:
        where = f"{section} {raw_id!r}"
    found: list[Problem] = []
    seen: set[str] = set()
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"])
        message = f"{field}: {detail['msg']}" if field else str(detail["msg"])
        if node is None:
            message = f"{where}: {message}"
        if message not in seen:
            seen.add(message)
            found.append(Problem(source, node, message))
    return found
