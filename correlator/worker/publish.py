"""Incident updates onto the incidents topic (key = incident id) and onto every configured
output (topic + format, `correlator.wire.render.outputs`), with the metrics that are counted per
published update."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from correlator.core import IncidentUpdate
from correlator.core.model import IncidentRecord
from correlator.wire.render.outputs import render_output
from correlator.worker.checkpoint import Batch
from correlator.worker.metrics import Metrics
from correlator.worker.output import Output

#: Open incidents remembered for the user-hours counter before the memory is cleared.
OPEN_IMPACT_LIMIT = 100_000


class Publisher:
    def __init__(
        self,
        output: Output,
        *,
        incidents_topic: str,
        metrics: Metrics,
        on_update: Callable[[IncidentRecord], None] | None = None,
        outputs: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`outputs`: (topic, format) pairs, each record also rendered there."""
        self._output = output
        self._topic = incidents_topic
        self._outputs = tuple(outputs)
        self._metrics = metrics
        self._on_update = on_update
        self._open_impact: dict[str, tuple[datetime, int]] = {}

    def publish(self, updates: Iterable[IncidentUpdate], batch: Batch) -> None:
        for update in updates:
            record = update.record
            self._output.send(
                self._topic,
                partition=None,
                key=record.id.encode(),
                value=record.to_json(),
                headers=(("correlator.version", str(record.version).encode()),),
            )
            batch.sent += 1
            for topic, fmt in self._outputs:
                # Same key as the native record: compaction and per-incident ordering hold.
                value, headers = render_output(fmt, record)
                self._output.send(
                    topic,
                    partition=None,
                    key=record.id.encode(),
                    value=value,
                    headers=tuple(headers),
                )
                batch.sent += 1
            self._metrics.updates_published.labels(status=record.status).inc()
            self._user_hours(record)
            if record.resolved_at is not None and "resolved" in record.changes:
                # Only the update that resolves it, not later re-publications.
                duration = (record.resolved_at - record.opened_at).total_seconds()
                self._metrics.resolve_time.labels(
                    priority=str(record.priority),
                    assignment_group=record.assignment_group or "none",
                ).observe(max(0.0, duration))
            if self._on_update is not None:
                self._on_update(record)

    def _user_hours(self, record: IncidentRecord) -> None:
        """People affected x hours, by event time, from one incident's successive updates:
        the head count of the previous update holds until this one."""
        previous = self._open_impact.get(record.id)
        until = record.resolved_at if record.status != "open" else record.updated_at
        if previous is not None and until is not None:
            since, users = previous
            seconds = (until - since).total_seconds()
            if seconds > 0 and users > 0:
                self._metrics.user_time_lost.inc(users * seconds)
        if record.status == "open":
            if len(self._open_impact) > OPEN_IMPACT_LIMIT:
                # Incidents whose partitions moved to another worker resolve there; forget
                # them rather than grow for ever (the counter only loses a segment).
                self._open_impact.clear()
            self._open_impact[record.id] = (record.updated_at, record.affected.users)
        else:
            self._open_impact.pop(record.id, None)


__all__ = ["OPEN_IMPACT_LIMIT", "Publisher"]
