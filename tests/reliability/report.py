"""Render the reliability suite's results (`conftest.py`) as the Markdown table of
RELIABILITY.md: `python -m tests.reliability.report [build/reliability.json]`."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson


def render(results: list[dict[str, object]]) -> str:
    lines = [
        "| fault or bad input | where | tries | result | test |",
        "|---|---|---:|---|---|",
    ]
    for row in results:
        module, _, test = str(row["test"]).partition("::")
        on_broker = "poison_pills" in module or "fetch_stall" in module
        where = "real broker (Tansu)" if on_broker else "in memory"
        lines.append(f"| {row['fault']} | {where} | {row['tries']} | {row['result']} | `{test}` |")
    held = sum(1 for row in results if row["result"] == "held")
    lines.append("")
    lines.append(f"{held} of {len(results)} classes held.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "build/reliability.json")
    print(render(orjson.loads(path.read_bytes())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
