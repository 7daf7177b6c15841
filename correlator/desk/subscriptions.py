"""A person asking for an incident's updates: the record on the subscriptions topic.

The desk API produces one record per request (key `<incident id>/<user id>`, so a compacted
topic keeps each subscription once); every worker's desk view reads the topic to show it at
once, and the worker that owns the incident adds the person to `subscribers` in its next
version (the engine side decodes with `decode_subscription`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from correlator.errors import CorrelatorError

SUBSCRIPTION_SCHEMA = "correlator.subscription/v1"


def subscriptions_topic(group_id: str, configured: str | None = None) -> str:
    """The topic's name: the configured one, else `<group id>-subscriptions`."""
    return configured or f"{group_id}-subscriptions"


class Subscription(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    schema_: Literal["correlator.subscription/v1"] = Field(
        default="correlator.subscription/v1", alias="schema"
    )
    incident: str = Field(min_length=1, description="incident id")
    user: str = Field(min_length=1, description="user id from the topology's directory")
    requested_at: datetime
    via: str = Field(default="desk-api", description="who asked: the desk API, a tool...")

    @property
    def key(self) -> bytes:
        return f"{self.incident}/{self.user}".encode()


class SubscriptionDecodeError(CorrelatorError):
    """A subscriptions-topic record that is not a subscription."""


def encode_subscription(subscription: Subscription) -> tuple[bytes, bytes]:
    """`(key, value)` of the Kafka record."""
    value = orjson.dumps(subscription.model_dump(mode="json", by_alias=True))
    return subscription.key, value


def decode_subscription(value: bytes | None) -> Subscription:
    if value is None:
        raise SubscriptionDecodeError("a tombstone, not a subscription")
    try:
        return Subscription.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise SubscriptionDecodeError(f"not a subscription: {where}: {first['msg']}") from exc
