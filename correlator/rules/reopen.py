"""Reopen: a resolved incident comes back only with evidence that its cause is back.

That the old root *could* explain a new alert is not enough: every node in its blast radius is
explained by it, and an unrelated fault there 20 minutes later must open its own incident, not
revive the old one with the old root at full confidence. The evidence that counts:

* the new alert is on the old root itself, or the old root is alerting again;
* or, the old root staying quiet, it is again a credible silent cause: enough of what it would
  break is alerting again, at about the same time (`GroupingIndex.plausible_silent`).
"""

from __future__ import annotations

from datetime import datetime

from correlator.rules.grouping import GroupingIndex


def cause_is_back(index: GroupingIndex, root: str, node: str, at: datetime) -> bool:
    """May an alert on `node` (started `at`) reopen an incident whose root was `root`?"""
    if node == root or root in index.firing_nodes:
        return True
    return index.plausible_silent(root, at)
