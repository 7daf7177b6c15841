"""The `correlator` command (CONTRACT §4)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import orjson

from correlator.replay import BadLine, replay_updates


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlator",
        description="Group monitoring alerts by cause, name the root cause, and tell the service "
        "desk who is affected.",
    )
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="the streaming worker: Kafka in, Kafka out, /metrics")
    run.add_argument("--config", help="YAML settings file (CORRELATOR_* variables win)")
    run.set_defaults(handler=_run)

    replay = sub.add_parser("replay", help="run a file of events through the engine")
    replay.add_argument("--topology", help="topology file or directory (default: example org)")
    replay.add_argument("--input", required=True, help="events, one per line ('-' = stdin)")
    replay.add_argument("--output", required=True, help="incident records ('-' = stdout)")
    replay.add_argument("--rules", help="correlation rules file (YAML)")
    replay.add_argument(
        "--no-drain",
        action="store_true",
        help="stop at the last event instead of letting pending hold-downs expire",
    )
    replay.set_defaults(handler=_replay)

    demo = sub.add_parser("demo", help="a bundled outage, end to end, no setup")
    demo.add_argument(
        "--kafka",
        action="store_true",
        help="run it through a local Kafka-compatible broker and the real worker",
    )
    demo.add_argument("--json", action="store_true", help="print the incident records as JSON")
    demo.set_defaults(handler=_demo)

    topo = sub.add_parser("topology", help="check a topology, or ask who a failure affects")
    topo_sub = topo.add_subparsers(dest="topology_command")
    check = topo_sub.add_parser("check", help="validate a topology file or directory")
    check.add_argument("path")
    check.set_defaults(handler=_topology_check)
    impact = topo_sub.add_parser("impact", help="who is affected if NODE fails")
    impact.add_argument("path")
    impact.add_argument("node", nargs="+", help="node id or alias (several: they fail together)")
    impact.add_argument("--json", action="store_true", help="machine-readable output")
    impact.set_defaults(handler=_topology_impact)
    return parser


def _run(args: argparse.Namespace) -> int:
    from correlator.worker.loop import main as worker_main

    code: int = worker_main(args.config)
    return code


@contextmanager
def _open_in(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
    else:
        with Path(path).open("rb") as handle:
            yield handle


@contextmanager
def _open_out(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
    else:
        with Path(path).open("wb") as handle:
            yield handle


def _replay(args: argparse.Namespace) -> int:
    from correlator.core.engine import Correlator
    from correlator.wire.render.record import build_record
    from correlator.wire.rules_file import load_settings
    from topology import TopologyError, load_topology
    from topology.loader import example_topology_path

    try:
        topology = load_topology(args.topology or example_topology_path())
        settings = load_settings(args.rules)
    except TopologyError as err:
        print(f"correlator: invalid topology:\n{err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"correlator: {err}", file=sys.stderr)
        return 2
    bad: list[BadLine] = []

    def report(line: BadLine) -> None:
        bad.append(line)
        print(f"{args.input}:{line.number}: skipped ({line.code}): {line.reason}", file=sys.stderr)

    engine = Correlator(topology, settings, render=build_record)
    count = 0
    with _open_in(args.input) as source, _open_out(args.output) as sink:
        for update in replay_updates(engine, source, on_error=report, drain=not args.no_drain):
            sink.write(update.record.to_json() + b"\n")
            count += 1
    print(
        f"correlator: {count} incident records from {len(engine.incidents)} incidents; "
        f"{len(bad)} unreadable lines skipped",
        file=sys.stderr,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.kafka:
        from correlator.demo.kafka import run_demo_on_kafka

        code: int = run_demo_on_kafka()
        return code
    from correlator.demo import run_demo

    return run_demo(as_json=args.json)


def _topology_check(args: argparse.Namespace) -> int:
    from topology import TopologyError, load_topology

    try:
        topology = load_topology(args.path)
    except TopologyError as err:
        print(f"{args.path}: invalid topology\n{err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"{args.path}: {err}", file=sys.stderr)
        return 1
    kinds: dict[str, int] = {}
    for node in topology.nodes.values():
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    people = sum(n.users for n in topology.nodes.values() if n.kind == "user_group")
    print(
        f"{args.path}: OK: {len(topology.nodes)} nodes ({summary}), {len(topology.sites)} sites, "
        f"{len(topology.teams)} teams, {people} people in user groups"
    )
    return 0


def _topology_impact(args: argparse.Namespace) -> int:
    from topology import TopologyError, load_topology

    try:
        topology = load_topology(args.path)
    except TopologyError as err:
        print(f"{args.path}: invalid topology\n{err}", file=sys.stderr)
        return 1
    failed: list[str] = []
    for name in args.node:
        node = name if name in topology.nodes else topology.resolve(name)
        if node is None:
            print(f"{args.path}: no node or alias named {name!r}", file=sys.stderr)
            return 1
        failed.append(node)
    found = topology.impact(failed)
    owners = sorted({o for n in failed if (o := topology.nodes[n].owner)})
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps(
                {
                    "failed": failed,
                    "services": list(found.services),
                    "business_services": list(found.business_services),
                    "user_groups": list(found.user_groups),
                    "users": found.users,
                    "sites": list(found.sites),
                    "cost_per_hour": found.cost_per_hour,
                    "currency": found.currency,
                    "resolver_groups": owners,
                },
                option=orjson.OPT_INDENT_2,
            )
            + b"\n"
        )
        return 0
    from correlator.wire.render.text import describe_impact

    print(describe_impact(topology, failed, found, owners))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
