"""Label matchers with Alertmanager's syntax and semantics.

A port of Alertmanager's classic parser (`pkg/labels/parse.go`, the one `amtool` 0.25 and the
`matchers:` fields of its config use), so a silence copied from Alertmanager means the same here:

* a set is `{name="value", name2=~"re.*"}`; the braces are optional, commas inside quotes do
  not split;
* operators `=`, `!=`, `=~`, `!~`; the value may be quoted (`"..."`) or bare, surrounding
  blanks are dropped;
* in a value `\\"` is a quote, `\\\\` a backslash, `\\n` a newline; any other `\\x` stays as
  written (so regexes such as `\\d+` need no doubling), and an unescaped quote inside is an error;
* a regex is fully anchored (`^(?:re)$`); a label that is absent matches as the empty string.

One extension: label names may also contain `.` and `-` (decoders keep such names from
PagerDuty and native events); Alertmanager refuses those, so any string it accepts parses the
same here. Regexes run on Python's `re`, which agrees with RE2 on the syntax monitoring rules use
(classes, alternation, repetition, groups); RE2-only constructs such as `\\pN` are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from correlator.errors import CorrelatorError

# Alertmanager's own expression, with the name extension described above.
_MATCHER: Final = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:.\-]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)
OPERATORS: Final = ("=", "!=", "=~", "!~")


class MatcherError(CorrelatorError, ValueError):
    """A matcher string Alertmanager would refuse too."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        hit = self.pattern.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        """Alertmanager's rendering (`name=~"value"`, value escaped), as `amtool` prints it."""
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def make_matcher(name: str, op: str, value: str) -> Matcher:
    if op not in OPERATORS:
        raise MatcherError(f"unknown matcher operator {op!r}")
    pattern = None
    if op in ("=~", "!~"):
        try:
            # fullmatch == Alertmanager's ^(?:value)$ (Python's `$` would also match before a
            # trailing newline; fullmatch does not).
            pattern = re.compile(f"(?:{value})")
        except re.error as err:
            raise MatcherError(f"bad regex in matcher {name}{op}{value!r}: {err}") from err
    return Matcher(name, op, value, pattern)


def _unescape(raw: str, original: str) -> str:
    expect_trailing_quote = raw.startswith('"')
    if expect_trailing_quote:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    last = len(raw) - 1
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            if char == "n":
                out.append("\n")
            elif char in '"\\':
                out.append(char)
            else:  # a spurious escape keeps its backslash
                out.append("\\" + char)
            continue
        if char == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")
        elif char == '"':
            if not expect_trailing_quote or i < last:
                raise MatcherError(f"matcher value contains unescaped double quote: {original}")
            expect_trailing_quote = False
        else:
            out.append(char)
    if expect_trailing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {original}")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """One matcher: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`."""
    hit = _MATCHER.match(text)
    if hit is None:
        raise MatcherError(
            f'bad matcher format: {text!r} (expected name="value", name!="value", '
            'name=~"regex" or name!~"regex")'
        )
    name, op, raw = hit.groups()
    return make_matcher(name, op, _unescape(raw, raw))


def _split(text: str) -> list[str]:
    # Alertmanager strips one brace each side before anything else (so no blank may precede
    # `{`), then splits on commas outside double quotes.
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for char in text:
        if char == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    tail = "".join(token).strip()
    if tail:
        tokens.append(tail)
    return tokens


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """A matcher set: `{alertname="x", severity=~"crit.*"}`, braces optional."""
    return tuple(parse_matcher(token) for token in _split(text))


def format_matchers(matchers: tuple[Matcher, ...] | list[Matcher]) -> str:
    """`{a="1",b=~"x"}` sorted by name then operator, as `amtool config routes` prints a set."""
    ordered = sorted(matchers, key=lambda m: (m.name, m.op, m.value))
    return "{" + ",".join(str(m) for m in ordered) + "}"


def matchers_from(spec: str | list[str] | Mapping[str, str]) -> tuple[Matcher, ...]:
    """Every accepted form of a silence's `matchers`: a set string, a list of matcher or set
    strings (as Alertmanager's `matchers:` config lists), or a mapping meaning equality."""
    if isinstance(spec, str):
        return parse_matchers(spec)
    if isinstance(spec, Mapping):
        return tuple(make_matcher(k, "=", v) for k, v in sorted(spec.items()))
    return tuple(m for item in spec for m in parse_matchers(item))
