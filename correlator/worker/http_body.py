"""Reading a request body within a size limit, fixed length or chunked.

Alertmanager sends `Content-Length`; other senders (and proxies) may send
`Transfer-Encoding: chunked`. Either way no more than `max_bytes` is kept in memory: a
declared length over the limit is refused before reading, a chunked body as soon as it
passes the limit.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from correlator.worker.webhook import Reply

#: After refusing a body, read and drop at most this much of it, for at most this long,
#: before answering: closing with unread input resets the connection under the answer.
LINGER_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 2.0


async def drain(request: Request) -> bool:
    """Read and drop what is left of the body (bounded). True when some was left unread:
    the answer should then close the connection."""
    left = LINGER_BYTES
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            async for chunk in request.stream():
                left -= len(chunk)
                if left < 0:
                    return True
    except (TimeoutError, ClientDisconnect):
        return True
    except RuntimeError:  # the stream was consumed already: nothing left
        return False
    return False


async def read_limited(request: Request, max_bytes: int) -> bytes | Reply:
    """The body, or the refusal to send (411 neither length nor chunks, 413 over the limit,
    400 the client went away)."""
    length_text = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if length_text is None and not chunked:
        return Reply(411, {"ok": False, "reason": "Content-Length or chunked body required"})
    if length_text is not None and int(length_text) > max_bytes:
        # h11 has checked that it is a number already.
        reason = f"body is {int(length_text)} bytes, over the {max_bytes} byte limit"
        return _too_large(reason, await drain(request))
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                reason = f"body is over the {max_bytes} byte limit"
                return _too_large(reason, await drain(request))
            parts.append(chunk)
    except ClientDisconnect:
        return Reply(400, {"ok": False, "reason": "the client went away mid-body"})
    return b"".join(parts)


def _too_large(reason: str, unread: bool) -> Reply:
    headers = (("Connection", "close"),) if unread else ()
    return Reply(413, {"ok": False, "code": "too_large", "reason": reason}, headers)
