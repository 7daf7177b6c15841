"""The `correlator` command: run, replay, demo, topology check/impact (docs/cli.md).

Every failure the user can fix ends in one line on stderr, `correlator COMMAND: what and
where`, and an exit code from `ExitCode`; a traceback means a bug in the correlator.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import orjson

from correlator import __version__
from correlator.cli_errors import CommandError, ExitCode, explain, using
from correlator.errors import CorrelatorError
from correlator.replay import BadLine, bounded_lines, replay_updates
from topology import TopologyError

log = logging.getLogger(__name__)

NO_TOPOLOGY = (
    "no topology given: set CORRELATOR_TOPOLOGY or `topology:` in the --config file "
    "(only `correlator demo` uses the bundled example organisation)"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error argparse already printed
        return done.code if isinstance(done.code, int) else ExitCode.USAGE
    if args.handler is None:  # `correlator` or `correlator topology` alone: say what there is
        args.help_for.print_help()
        return ExitCode.OK
    name = f"correlator {args.name}"
    try:
        code: int = args.handler(args)
    except CommandError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return err.code
    except BrokenPipeError:
        return _closed_stdout()
    except TopologyError as err:
        print(f"{name}: {explain(err)}", file=sys.stderr)
        return ExitCode.DATA
    except (CorrelatorError, OSError) as err:
        print(f"{name}: {explain(err)}", file=sys.stderr)
        return ExitCode.FAILURE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlator",
        description="Group monitoring alerts by cause, name the root cause, and tell the service "
        "desk who is affected.",
        epilog="Exit codes: 0 ok, 1 failure while running, 2 bad command line, 3 unreadable or "
        "invalid input/topology/output file, 4 unusable settings (see docs/cli.md).",
    )
    parser.add_argument("--version", action="version", version=f"correlator {__version__}")
    parser.set_defaults(handler=None, help_for=parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="the streaming worker: Kafka in, Kafka out, /metrics")
    run.add_argument("--config", help="YAML settings file (CORRELATOR_* variables win)")
    run.set_defaults(handler=_run, name="run")

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
    replay.set_defaults(handler=_replay, name="replay")

    demo = sub.add_parser("demo", help="a bundled outage, end to end, no setup")
    demo.add_argument(
        "--kafka",
        action="store_true",
        help="run it through a local Kafka-compatible broker and the real worker",
    )
    demo.add_argument("--json", action="store_true", help="print the incident records as JSON")
    demo.set_defaults(handler=_demo, name="demo")

    topo = sub.add_parser("topology", help="check a topology, or ask who a failure affects")
    topo.set_defaults(help_for=topo)
    topo_sub = topo.add_subparsers(title="commands", metavar="COMMAND")
    check = topo_sub.add_parser("check", help="validate a topology file or directory")
    check.add_argument("path")
    check.set_defaults(handler=_topology_check, name="topology check")
    impact = topo_sub.add_parser("impact", help="who is affected if NODE fails")
    impact.add_argument("path")
    impact.add_argument("node", nargs="+", help="node id or alias (several: they fail together)")
    impact.add_argument("--json", action="store_true", help="machine-readable output")
    impact.set_defaults(handler=_topology_impact, name="topology impact")
    return parser


def _run(args: argparse.Namespace) -> int:
    from correlator.worker.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as err:
        raise CommandError(str(err), ExitCode.CONFIG) from err
    # Contract: a worker never correlates against the example organisation by accident.
    if config.topology is None:
        raise CommandError(NO_TOPOLOGY, ExitCode.CONFIG)
    if not Path(config.topology).exists():
        raise CommandError(f"topology {config.topology}: no such file or directory", ExitCode.DATA)
    if config.rules is not None:
        with using("rules file", config.rules, ExitCode.CONFIG):
            config.engine_settings()
    # Loading the topology is left to the worker: a large one takes seconds, and loading it
    # twice would double the start-up time. An invalid one makes the worker log why and exit 1.
    from correlator.worker.logs import setup_logging
    from correlator.worker.service import serve

    setup_logging(config.log_level, config.log_format)
    log.info("configuration: %s", orjson.dumps(config.redacted()).decode())
    return ExitCode.OK if serve(config) == 0 else ExitCode.FAILURE


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
    from correlator.core.settings import EngineSettings
    from correlator.wire.render.record import build_record
    from correlator.wire.rules_file import load_settings
    from topology import load_topology
    from topology.loader import example_topology_path

    topology_path = str(args.topology or example_topology_path())
    with using("topology", topology_path, ExitCode.DATA):
        topology = load_topology(topology_path)
    settings = EngineSettings()
    if args.rules is not None:
        with using("rules file", args.rules, ExitCode.CONFIG):
            settings = load_settings(args.rules)
    bad = 0  # counted, never kept: a file of garbage must not fill the memory

    def report(line: BadLine) -> None:
        nonlocal bad
        bad += 1
        print(f"{args.input}:{line.number}: skipped ({line.code}): {line.reason}", file=sys.stderr)

    engine = Correlator(topology, settings, render=build_record)
    count = 0
    with ExitStack() as files:
        # The input is opened first, so that a missing input does not truncate the output.
        with using("input", args.input, ExitCode.DATA):
            source = files.enter_context(_open_in(args.input))
        with using("output", args.output, ExitCode.DATA):
            sink = files.enter_context(_open_out(args.output))
        with using("input", args.input, ExitCode.DATA):
            lines = bounded_lines(source)
            for update in replay_updates(engine, lines, on_error=report, drain=not args.no_drain):
                _write(sink, args.output, update.record.to_json() + b"\n")
                count += 1
            _write(sink, args.output, b"")
    print(
        f"correlator: {count} incident records from {len(engine.incidents)} incidents; "
        f"{bad} unreadable lines skipped",
        file=sys.stderr,
    )
    return ExitCode.OK


def _write(sink: IO[bytes], path: str, data: bytes) -> None:
    """Write (and with no data, flush) the output, naming it when that fails (disk full...)."""
    try:
        if data:
            sink.write(data)
        else:
            sink.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise CommandError(f"output {path}: {explain(err, path)}", ExitCode.DATA) from err


def _closed_stdout() -> int:
    """The reader of stdout went away (`| head`): stop quietly, as Unix tools do."""
    # Python would otherwise complain again while flushing stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return ExitCode.FAILURE


def _demo(args: argparse.Namespace) -> int:
    if args.kafka:
        from correlator.demo.kafka import run_demo_on_kafka

        code: int = run_demo_on_kafka()
        return code
    from correlator.demo import run_demo

    return run_demo(as_json=args.json)


def _topology_check(args: argparse.Namespace) -> int:
    from topology import load_topology

    try:
        topology = load_topology(args.path)
    except TopologyError as err:
        # Listing every problem is what `check` is for, so this report is not folded.
        print(f"correlator topology check: {args.path}: {err}", file=sys.stderr)
        return ExitCode.DATA
    kinds: dict[str, int] = {}
    for node in topology.nodes.values():
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    people = sum(n.users for n in topology.nodes.values() if n.kind == "user_group")
    print(
        f"{args.path}: OK: {len(topology.nodes)} nodes ({summary}), {len(topology.sites)} sites, "
        f"{len(topology.teams)} teams, {people} people in user groups"
    )
    return ExitCode.OK


def _topology_impact(args: argparse.Namespace) -> int:
    from topology import load_topology

    with using("topology", args.path, ExitCode.DATA):
        topology = load_topology(args.path)
    from correlator.desk.impact import UnknownNodeError, impact_document, resolve_nodes

    try:
        failed = resolve_nodes(topology, args.node)
    except UnknownNodeError as err:
        raise CommandError(f"{args.path}: {err}", ExitCode.DATA) from err
    if args.json:
        document = impact_document(topology, failed)
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return ExitCode.OK
    found = topology.impact(failed)
    owners = sorted({o for n in failed if (o := topology.nodes[n].owner)})
    from correlator.wire.render.text import describe_impact

    print(describe_impact(topology, failed, found, owners))
    return ExitCode.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
