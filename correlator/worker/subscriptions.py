"""Subscriptions into the engines: a person asked (through the desk API) for an incident's
updates, and the engine that holds the incident lists them in its next version.

Every worker reads the whole compacted subscriptions topic (`correlator.worker.kafka.
subscriptions_reader`, on a thread) into a `SubscriptionFeed`; once per iteration the loop
hands what arrived to every engine this worker runs (`SubscriptionApplier.apply`). An engine
that does not hold the incident answers `[]`, so exactly the owner publishes. The resulting
updates are published and checkpointed like those of an idle tick.

Idempotent by construction: subscribing a person twice changes nothing the second time, so
after a restart the topic is simply read again from the beginning, and an engine that joins
this worker (a rebalance, a restore) is offered every subscription known so far. That is how
subscriptions survive restarts and partition moves without state of their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from correlator.core import IncidentUpdate
from correlator.desk.subscriptions import Subscription
from correlator.worker.checkpoint import Batch, Checkpointer
from correlator.worker.metrics import Metrics
from correlator.worker.partitions import EnginePartition
from correlator.worker.publish import Publisher

log = logging.getLogger("correlator.worker.loop")

#: Subscriptions remembered for engines that join later. The topic is compacted (one record per
#: person and incident); past this many the first read are forgotten first: their
#: incidents are long resolved, and an engine answers `[]` for them anyway.
KNOWN_LIMIT = 200_000


@runtime_checkable
class SubscribingEngine(Protocol):
    """The engine call this module needs (`correlator.core.Correlator.subscribe`)."""

    def subscribe(self, incident_id: str, user: str, now: datetime) -> Sequence[IncidentUpdate]: ...


class SubscriptionFeed:
    """What the reader thread read and the loop has not applied yet (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fresh: list[Subscription] = []
        self._known: dict[bytes, Subscription] = {}

    def offer(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription.key in self._known:
                # Re-read (restart) or asked twice: the engines have it, or will from `known`.
                self._known[subscription.key] = subscription
                return
            if len(self._known) >= KNOWN_LIMIT:
                del self._known[next(iter(self._known))]  # the first read: the topic's oldest
            self._known[subscription.key] = subscription
            self._fresh.append(subscription)

    def take(self) -> list[Subscription]:
        """The subscriptions that arrived since the last call."""
        with self._lock:
            fresh, self._fresh = self._fresh, []
        return fresh

    def known(self) -> list[Subscription]:
        """Every subscription read so far, oldest request first."""
        with self._lock:
            return sorted(self._known.values(), key=lambda s: s.requested_at)

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)


class SubscriptionApplier:
    """Applies the feed to the engines this worker runs (`engines`, shared with the loop)."""

    def __init__(
        self,
        feed: SubscriptionFeed,
        engines: Mapping[int, EnginePartition],
        *,
        publisher: Publisher,
        checkpointer: Checkpointer,
        metrics: Metrics,
        monotonic: Callable[[], float],
    ) -> None:
        self._feed = feed
        self._engines = engines
        self._publisher = publisher
        self._checkpointer = checkpointer
        self._metrics = metrics
        self._mono = monotonic
        # The engine objects already offered everything known: a partition restored on this
        # worker gets a new engine object, which is then offered the whole feed. Held by
        # reference (not only by id) so that a dropped engine's id cannot be reused unnoticed.
        self._seen: dict[int, object] = {}
        self._warned = False

    def apply(self) -> None:
        """Offer new subscriptions to every engine, and every known one to engines that are
        new here; publish and save what the owners changed."""
        fresh = self._feed.take()
        current = {id(part.engine) for part in self._engines.values()}
        self._seen = {k: v for k, v in self._seen.items() if k in current}
        newcomers = [p for p in self._engines.values() if id(p.engine) not in self._seen]
        if not fresh and not newcomers:
            return
        batch = Batch()
        backlog = self._feed.known() if newcomers else []
        for part in self._engines.values():
            is_new = id(part.engine) not in self._seen
            todo = backlog if is_new else fresh
            if todo:
                self._offer(part, todo, batch)
            self._seen[id(part.engine)] = part.engine
        self._checkpointer.save(batch)

    def _offer(self, part: EnginePartition, todo: list[Subscription], batch: Batch) -> None:
        engine = part.engine
        if not isinstance(engine, SubscribingEngine):
            if not self._warned:
                log.warning("this engine cannot take subscriptions; they are not applied")
                self._warned = True
            return
        now = part.clock.idle_now(self._mono())
        if now is None:
            return  # an engine that never saw an event holds no incident
        for sub in todo:
            try:
                updates = engine.subscribe(sub.incident, sub.user, now)
            except Exception:
                # One bad subscription must not stop the worker: it is logged and counted.
                log.exception("subscribing %s to %s failed", sub.user, sub.incident)
                self._metrics.subscriptions_applied.labels(outcome="error").inc()
                continue
            if updates:
                self._publisher.publish(updates, batch)
                batch.touched.add(part.partition)
                self._metrics.subscriptions_applied.labels(outcome="applied").inc()


__all__ = ["KNOWN_LIMIT", "SubscribingEngine", "SubscriptionApplier", "SubscriptionFeed"]
