"""The service desk's side: a view of the incidents topic, caller lookup, subscriptions, the
desk API and page (docs/desk.md).

Nothing here imports a Kafka client: the worker feeds `DeskView` from the incidents topic
(`correlator.worker.kafka.incidents_view`) and hands the API a function that produces
subscriptions."""

from correlator.desk.callers import Caller, find_caller, say
from correlator.desk.subscriptions import (
    Subscription,
    SubscriptionDecodeError,
    decode_subscription,
    encode_subscription,
    subscriptions_topic,
)
from correlator.desk.view import DeskRecord, DeskView

__all__ = [
    "Caller",
    "DeskRecord",
    "DeskView",
    "Subscription",
    "SubscriptionDecodeError",
    "decode_subscription",
    "encode_subscription",
    "find_caller",
    "say",
    "subscriptions_topic",
]
