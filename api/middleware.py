"""Pure ASGI guards that answer before any work is done."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OriginGuard:
    """403 for a browser request whose Origin is not on ALLOWED_ORIGINS (exact scheme, host and port).
    Requests without an Origin (servers, curl) pass here and still need a valid token."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app, self.allowed = app, {o.rstrip("/") for o in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            origin = dict(scope["headers"]).get(b"origin")
            if origin is not None and origin.decode("latin-1").rstrip("/") not in self.allowed:
                await send_error(send, 403, "origin_not_allowed", "This origin is not allowed.")
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for request bodies over the limit, whether or not Content-Length is declared."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await send_error(
                send, 413, "payload_too_large", f"The request body exceeds {self.max_bytes} bytes."
            )
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await send_error(
                send, 413, "payload_too_large", f"The request body exceeds {self.max_bytes} bytes."
            )


class _TooLarge(Exception):
    pass
