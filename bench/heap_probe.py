"""Run `correlator` with tracemalloc on, writing a heap snapshot each time it gets SIGUSR2.

    python bench/heap_probe.py OUTDIR [--frames N | --no-trace] -- run --config FILE

`bench/soak.py --heap` starts the worker this way and signals it at the end of warm-up and at
the end of the run, then compares the two snapshots (`compare`): what Python holds more of
after warm-up, by the line that allocated it, next to how much the RSS grew. Python memory that
stays flat while the RSS grows points at the allocator or at C libraries (librdkafka's
buffers), not at the worker's own state.

Each snapshot is `OUTDIR/heap-<n>.pickle` (tracemalloc's format) with `OUTDIR/heap-<n>.json`
beside it: the RSS, Python's traced total and its peak since the snapshot before, and glibc's
own account of its heap (`mallinfo2`: bytes in use, free inside the heap, and mapped by mmap)
when the C library has it; also the cyclic garbage it holds (`cyclic_garbage`), kept alive
after counting so that looking does not lower the RSS that follows.
tracemalloc slows the allocator: profile at a rate the worker keeps up with under it.
`--no-trace` leaves tracemalloc off and writes only the JSON (free to run at full rate).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from correlator.cli import main as correlator_main
from correlator.worker.heap_trim import resident_bytes


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def glibc_heap() -> dict[str, int] | None:
    """glibc's totals over all its arenas (None on another C library)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {
        "arena_bytes": info.arena,  # obtained with brk/sbrk or in non-main arenas
        "mmap_bytes": info.hblkhd,
        "in_use_bytes": info.uordblks,
        "free_in_heap_bytes": info.fordblks,
    }


def cyclic_garbage() -> dict[str, Any]:
    """Unreachable cycles the worker holds, frozen ones included (`gc.freeze` takes what is
    in the old generation, garbage too, out of the collector's reach for good). Found with a
    full collection that keeps what it finds (DEBUG_SAVEALL), so the RSS is not changed by
    looking; the worker's freeze is restored after."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.unfreeze()
    before = len(gc.garbage)
    began = time.perf_counter()
    gc.collect()
    seconds = time.perf_counter() - began
    gc.freeze()
    gc.set_debug(0)
    found = gc.garbage[before:]
    kinds: dict[str, int] = {}
    for obj in found:
        kinds[type(obj).__qualname__] = kinds.get(type(obj).__qualname__, 0) + 1
    top = sorted(kinds.items(), key=lambda kv: -kv[1])[:12]
    return {"objects": len(found), "by_type": dict(top), "collect_seconds": round(seconds, 2)}


def install(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    taken = [0]

    def snapshot(_signum: int, _frame: FrameType | None) -> None:
        taken[0] += 1
        began = time.perf_counter()
        summary: dict[str, Any] = {
            "rss_bytes": resident_bytes(),
            "glibc": glibc_heap(),
            # Python's own small-object allocator: blocks live now, traced or not.
            "python_allocated_blocks": sys.getallocatedblocks(),
            "frozen_objects": gc.get_freeze_count(),
        }
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(out / f"heap-{taken[0]}.pickle"))
            current, peak = tracemalloc.get_traced_memory()
            summary["traced_bytes"] = current
            summary["traced_peak_bytes"] = peak
            summary["tracemalloc_overhead_bytes"] = tracemalloc.get_tracemalloc_memory()
            tracemalloc.reset_peak()  # the next snapshot's peak is the peak since this one
        summary["cyclic_garbage"] = cyclic_garbage()
        summary["seconds_to_take"] = round(time.perf_counter() - began, 2)
        # Written whole, then renamed: the soak reads it as soon as the name appears.
        partial = out / f"heap-{taken[0]}.json.partial"
        partial.write_bytes(orjson.dumps(summary))
        partial.rename(out / f"heap-{taken[0]}.json")

    signal.signal(signal.SIGUSR2, snapshot)


def compare(first: Path, second: Path, top: int = 25) -> list[dict[str, Any]]:
    """The lines whose live allocations grew most from `first` to `second`."""
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(second))
    rows = []
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        rows.append(
            {
                "where": f"{frame.filename}:{frame.lineno}",
                "size_diff_kb": round(stat.size_diff / 1024, 1),
                "size_kb": round(stat.size / 1024, 1),
                "count_diff": stat.count_diff,
            }
        )
    return rows


def main() -> None:
    args = sys.argv[1:]
    if "--" not in args or not args:
        raise SystemExit(__doc__)
    split = args.index("--")
    own, rest = args[:split], args[split + 1 :]
    frames = 1
    if "--frames" in own:
        at = own.index("--frames")
        frames = int(own[at + 1])
        del own[at : at + 2]
    if "--no-trace" in own:
        own.remove("--no-trace")
    else:
        tracemalloc.start(frames)
    install(Path(own[0]))
    raise SystemExit(correlator_main(rest))


if __name__ == "__main__":
    main()
