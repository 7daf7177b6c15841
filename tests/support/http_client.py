"""A tiny HTTP client for tests against a served port (the standard library only)."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes
    headers: Mapping[str, str]

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> object:
        return orjson.loads(self.content)


class HttpClient:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        sent = dict(headers or {})
        body = None
        if json is not None:
            body = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return Answer(response.status, response.read(), dict(response.getheaders()))
        finally:
            conn.close()

    def get(self, path: str, **kwargs: object) -> Answer:
        return self.request("GET", path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> Answer:
        return self.request("POST", path, **kwargs)  # type: ignore[arg-type]
