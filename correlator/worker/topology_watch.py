"""The topology a worker routes and correlates with: reloaded on SIGHUP or when the file
changes, validated first, and the last good one kept when a reload fails.

The previous topologies are remembered for `PREVIOUS_TOPOLOGY_GRACE`, so that a resolve is also
routed where the topology in force when its alert fired sent it (see `input.Router`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from correlator.worker.engine import TopologyLoader
from correlator.worker.metrics import Metrics
from topology import Topology

log = logging.getLogger("correlator.worker.loop")

#: After a topology reload, resolves are also sent where the previous topology would have
#: routed them for this long, so that an alert that fired before the reload still finds its
#: engine (a day covers any realistic alert lifetime).
PREVIOUS_TOPOLOGY_GRACE = 24 * 3600.0


def newest_mtime(path: Path) -> float:
    """Newest modification time under `path` (a file or a directory tree); -1 if unreadable."""
    try:
        if path.is_dir():
            times = [path.stat().st_mtime]
            times.extend(p.stat().st_mtime for p in path.rglob("*") if p.is_file())
            return max(times)
        return path.stat().st_mtime
    except OSError:
        return -1.0


class TopologyWatch:
    """Holds the current topology and swaps in new ones. `request_reload` may be called from
    any thread (a signal handler); the reload itself happens in the loop's thread."""

    def __init__(
        self,
        path: Path,
        load: TopologyLoader,
        *,
        poll_interval: float,
        metrics: Metrics,
        monotonic: Callable[[], float],
        wall: Callable[[], datetime],
        on_change: Callable[[Topology], None],
    ) -> None:
        self.path = path
        self._load = load
        self._poll_interval = poll_interval
        self._metrics = metrics
        self._mono = monotonic
        self._wall = wall
        self._on_change = on_change
        self._requested = threading.Event()
        self._mtime = -1.0
        self._checked = 0.0
        self._current: Topology | None = None
        self.previous: list[tuple[float, Topology]] = []
        """(expiry on the monotonic clock, topology) of the topologies replaced lately."""

    @property
    def current(self) -> Topology:
        assert self._current is not None, "load() first"
        return self._current

    @property
    def loaded(self) -> Topology | None:
        return self._current

    def load(self) -> None:
        """The first load; a failure stops the start."""
        self._install(self._load(str(self.path)), initial=True)
        self._mtime = newest_mtime(self.path)
        self._checked = self._mono()

    def request_reload(self) -> None:
        self._requested.set()

    def poll(self) -> None:
        """Forget expired previous topologies; reload if asked to or if the file changed
        (checked every `poll_interval`)."""
        mono = self._mono()
        self.previous = [(t, topo) for t, topo in self.previous if t > mono]
        forced = self._requested.is_set()
        if not forced and mono - self._checked < self._poll_interval:
            return
        self._checked = mono
        mtime = newest_mtime(self.path)
        if not forced and mtime == self._mtime:
            return
        self._requested.clear()
        self._mtime = mtime
        self.reload(reason="SIGHUP" if forced else "file changed")

    def reload(self, reason: str = "requested") -> bool:
        """Load, validate and swap in the topology; keep the last good one on failure."""
        try:
            topology = self._load(str(self.path))
        except Exception as exc:
            self._metrics.topology_reload_failures.inc()
            self._metrics.topology_reload_successful.set(0)
            log.error(
                "topology reload (%s) refused, keeping the last good one (%d nodes): %s",
                reason,
                len(self._current) if self._current is not None else 0,
                exc,
            )
            return False
        self._metrics.topology_reload_successful.set(1)
        if self._current is not None and topology.digest == self._current.digest:
            log.info("topology reload (%s): unchanged", reason)
            return True
        self._install(topology)
        self._metrics.topology_reloads.inc()
        log.info("topology reloaded (%s): %d nodes", reason, len(topology))
        return True

    def _install(self, topology: Topology, *, initial: bool = False) -> None:
        if not initial and self._current is not None:
            expires = self._mono() + PREVIOUS_TOPOLOGY_GRACE
            self.previous.append((expires, self._current))
        self._current = topology
        self._on_change(topology)
        self._metrics.topology_nodes.set(len(topology))
        self._metrics.topology_reload_time.set(self._wall().timestamp())
        self._metrics.topology_reload_successful.set(1)


__all__ = ["PREVIOUS_TOPOLOGY_GRACE", "TopologyWatch", "newest_mtime"]
