"""Label-selector matching of alerts onto nodes, indexed so it stays fast with many selectors.

Each selector is filed under one of its (key, value) pairs: the pair that fewest selectors share,
so buckets stay small. A lookup only checks the selectors filed under pairs the alert carries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_Selector = tuple[int, tuple[tuple[str, str], ...], str]
"""(load order of the node, all pairs of the selector, node id)."""


class SelectorIndex:
    __slots__ = ("_buckets",)

    def __init__(self, nodes: Iterable[tuple[str, Sequence[Mapping[str, str]]]]) -> None:
        selectors: list[_Selector] = []
        for order, (node_id, node_selectors) in enumerate(nodes):
            for selector in node_selectors:
                if selector:
                    selectors.append((order, tuple(sorted(selector.items())), node_id))
        popularity = Counter(pair for _, pairs, _ in selectors for pair in pairs)
        buckets: dict[tuple[str, str], list[_Selector]] = {}
        for entry in selectors:
            key = min(entry[1], key=lambda pair: (popularity[pair], pair))
            buckets.setdefault(key, []).append(entry)
        self._buckets: dict[tuple[str, str], tuple[_Selector, ...]] = {
            key: tuple(bucket) for key, bucket in buckets.items()
        }

    def match(self, labels: Mapping[str, str]) -> str | None:
        """The first node, in load order, one of whose selectors all `labels` satisfy."""
        best: _Selector | None = None
        buckets = self._buckets
        for pair in labels.items():
            for entry in buckets.get(pair, ()):
                if best is not None and entry[0] >= best[0]:
                    break  # buckets are in load order: nothing later here can win
                if all(labels.get(key) == value for key, value in entry[1]):
                    best = entry
                    break
        return None if best is None else best[2]
