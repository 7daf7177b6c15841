"""The one error a decoder raises: a message that cannot be read.

The worker sends such a message to the dead-letter topic with `reason` (for the person who
reads the DLQ) and `code` (a small fixed vocabulary, safe as a metric label and DLQ header).
"""

from __future__ import annotations

from typing import Final, Literal

DecodeErrorCode = Literal[
    "not_json", "unknown_shape", "bad_timestamp", "too_large", "invalid_field"
]

#: Every value `DecodeError.code` can take; a metric may pre-create one series per code.
CODES: Final[tuple[DecodeErrorCode, ...]] = (
    "not_json",
    "unknown_shape",
    "bad_timestamp",
    "too_large",
    "invalid_field",
)


class DecodeError(Exception):
    """A message that cannot be turned into alerts.

    `code` is one of `CODES`; `reason` is one sentence that names the problem and, where there
    is one, the field (``bad timestamp in alerts[2].startsAt: 'yesterday'``).
    """

    code: DecodeErrorCode
    reason: str

    def __init__(self, code: DecodeErrorCode, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"DecodeError({self.code!r}, {self.reason!r})"
