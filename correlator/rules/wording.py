"""Counts in reasons that a desk reads out: the noun and the verb agree with the number
("1 monitored component, of which 1 alerts"), and small counts are said in words ("both")."""

from __future__ import annotations


def agree(n: int, one: str, many: str) -> str:
    """The word that agrees with a count: reasons are read out, "1 components" is not."""
    return one if n == 1 else many


def count(n: int, noun: str) -> str:
    """`1 alerting component`, `2 alerting components`, `no alerting component`."""
    return f"no {noun}" if n == 0 else f"{n} {noun}{agree(n, '', 's')}"


def out_of(n: int, of: int, noun: str = "alerting component") -> str:
    """`n` of `of` others in words: "the other alerting component", "both other alerting
    components", "all 5 other ...", "2 of the 5 other ..." (never "1 of the 1")."""
    if n == of == 1:
        return f"the other {noun}"
    if n == of == 2:
        return f"both other {noun}s"
    if n == of:
        return f"all {of} other {noun}s"
    return f"{n} of the {of} other {noun}{agree(of, '', 's')}"


def all_unexplained_depend(n: int) -> str:
    """All of `n` alerting components that nothing else explains depend (on a quiet cause)."""
    if n == 1:
        return "the one alerting component that nothing else explains depends"
    every = "both alerting components" if n == 2 else f"all {n} alerting components"
    return f"{every} that nothing else explains depend"


def only_others(n: int) -> str:
    """How few other alerting components one explains: never "only 0"."""
    return (
        "no other alerting component" if n == 0 else f"only {count(n, 'other alerting component')}"
    )


def others_are(n: int) -> str:
    """`1 other alerting component is`, `2 other alerting components are`."""
    return f"{count(n, 'other alerting component')} {agree(n, 'is', 'are')}"


def depend(n: int) -> str:
    """`1 alerting component depends`, `2 alerting components depend`."""
    return f"{count(n, 'alerting component')} {agree(n, 'depends', 'depend')}"
