"""A WebSocket client that talks to the ASGI app in-process: it sends texts, then leaves, and keeps what it got."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message


async def converse(app: ASGIApp, path: str, texts: list[str], *, request_id: str | None = None) -> list[Message]:
    """Connect to ``path``, send ``texts`` one by one, then disconnect; return every message the app sent."""
    headers = [(b"host", b"testserver")]
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        *({"type": "websocket.receive", "text": text} for text in texts),
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def close_code(sent: list[Message]) -> int | None:
    """The code of the app's close frame; None when it sent none (the client would see 1006)."""
    codes = [message.get("code", 1000) for message in sent if message["type"] == "websocket.close"]
    return codes[-1] if codes else None
