"""A minimal HTTP/1.1 request parser and response writer for asyncio streams.

Hand-written on purpose, so the server can misbehave at the byte level (drop the
connection, send half a body).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    418: "I'm a teapot",
    429: "Too Many Requests",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class BadRequest(Exception):
    """The bytes received are not a request this server understands."""


@dataclass
class Request:
    """One parsed HTTP request. Header names are lower-cased."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes = b""
    path: str = field(init=False)
    query: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))

    @property
    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept open after the response."""
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @property
    def is_websocket_upgrade(self) -> bool:
        """Whether this is a WebSocket opening handshake."""
        return (
            self.headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in self.headers.get("connection", "").lower()
        )

    def json(self) -> Any:
        """The body decoded as JSON (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"body is not JSON: {exc}") from exc


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; ``None`` when the peer closed the connection cleanly."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest("connection closed mid-request") from exc
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError as exc:
        raise BadRequest(f"bad request line {lines[0]!r}") from exc
    if not version.startswith("HTTP/1."):
        raise BadRequest(f"unsupported version {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest("chunked request bodies are not supported")
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > MAX_BODY:
        raise BadRequest("bad Content-Length")
    body = await reader.readexactly(length) if length else b""
    return Request(method.upper(), target, version, headers, body)


@dataclass
class Response:
    """An HTTP response with a complete body (sent with Content-Length)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """A JSON response (compact encoding, like Binance)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, "application/json", list(headers or []))

    @classmethod
    def error(cls, status: int, code: int, msg: str) -> Response:
        """A Binance-style JSON error ``{"code": code, "msg": msg}``."""
        return cls.json(status, {"code": code, "msg": msg})

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        """An HTML response."""
        return cls(status, text.encode(), "text/html")

    def head_bytes(self, now_ms: int, keep_alive: bool) -> bytes:
        """Status line and headers, ``Date`` taken from ``now_ms``."""
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Unknown')}",
            f"Content-Type: {self.content_type}"
            + ("; charset=utf-8" if "json" in self.content_type else ""),
            f"Content-Length: {len(self.body)}",
            f"Date: {http_date(now_ms)}",
            "Server: binance-simulator",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{k}: {v}" for k, v in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_date(ms: int) -> str:
    """An RFC 7231 HTTP-date for epoch milliseconds."""
    return formatdate(ms / 1000, usegmt=True)
