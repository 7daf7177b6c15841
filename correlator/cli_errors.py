"""How the `correlator` command reports a failure: one line on stderr and a documented exit code.

The command never shows a Python traceback for something the user can fix (a missing file, a
bad rules file, an invalid topology, a bad setting). Each such failure is turned into a
`CommandError` that carries the exit code (docs/cli.md lists them) and a message of one line:
multi-line texts from YAML or pydantic are folded, and pydantic's links to its own web site are
left out because they explain pydantic, not the correlator's settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import yaml
from pydantic import ValidationError

from correlator.errors import CorrelatorError
from topology import TopologyError

#: A topology error lists every problem; a one-line message shows this many and counts the rest
#: (`correlator topology check PATH` lists them all).
TOPOLOGY_PROBLEMS_SHOWN = 3


class ExitCode(IntEnum):
    """The exit codes of `correlator` (documented in docs/cli.md; scripts rely on them)."""

    OK = 0
    FAILURE = 1
    """Something went wrong while running: the worker stopped on an error, the demo failed."""
    USAGE = 2
    """The command line itself is wrong (unknown option, missing argument): argparse's code."""
    DATA = 3
    """A file named on the command line cannot be read or written, or its content is invalid:
    the events (`--input`), the output (`--output`), a topology, a node named for `impact`."""
    CONFIG = 4
    """The settings are unusable: the `run --config` file or `CORRELATOR_*` variables, a rules
    file, or `run` given no topology at all."""
    INTERRUPTED = 130
    """Ctrl-C, as shells report a SIGINT."""


class CommandError(CorrelatorError):
    """A failure the command reports as one line with a given exit code."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(one_line(message))
        self.code = code


_URL_LINE = re.compile(r"^\s*For further information visit \S+\s*$", re.MULTILINE)


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) folded into one space."""
    return " ".join(text.split())


def explain(exc: BaseException, path: str | None = None) -> str:
    """A one-line reason for `exc`, in the user's terms rather than the library's; a file name
    equal to `path` (already said by the caller) is not repeated."""
    if isinstance(exc, TopologyError):
        return _topology_reason(exc)
    if isinstance(exc, ValidationError):
        return _validation_reason(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        named = exc.filename is not None and str(exc.filename) != path
        return one_line(f"{exc.filename}: {reason}" if named else reason)
    if isinstance(exc, yaml.YAMLError):
        return one_line(f"not valid YAML: {exc}")
    return one_line(_URL_LINE.sub("", str(exc)) or type(exc).__name__)


def _topology_reason(exc: TopologyError) -> str:
    count = len(exc.problems)
    shown = "; ".join(str(p) for p in exc.problems[:TOPOLOGY_PROBLEMS_SHOWN])
    more = count - TOPOLOGY_PROBLEMS_SHOWN
    tail = f"; and {more} more (`correlator topology check` lists them all)" if more > 0 else ""
    return one_line(f"invalid topology ({count} problem{'s' if count != 1 else ''}): {shown}{tail}")


def _validation_reason(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in err['loc']) or '(top)'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    ]
    return one_line("; ".join(problems))


#: What a file of the command line can fail with when it is read or written.
FILE_ERRORS = (OSError, TopologyError, ValidationError, yaml.YAMLError, ValueError, CorrelatorError)


@contextmanager
def using(kind: str, path: str, code: ExitCode) -> Iterator[None]:
    """Turn a failure while reading or writing the `kind` file `path` ("rules file", "x.yaml")
    into a `CommandError` with `code`, so the message says which file the user must fix."""
    try:
        yield
    except (CommandError, BrokenPipeError):  # already explained; a closed pipe is no error
        raise
    except FILE_ERRORS as exc:
        raise CommandError(f"{kind} {path}: {explain(exc, path)}", code) from exc
