"""Pure ASGI guards that answer before any work is done."""

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error the API answers, from a handler or a guard: `{"error": {"code", "message"}}`."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def too_large(max_bytes: int) -> str:
    return f"The request body is larger than {max_bytes} bytes, this API's limit."


class OriginGuard:
    """403 for a browser request whose Origin is not on ALLOWED_ORIGINS (exact scheme, host and port) and
    is not the API's own origin (the built-in chat page at `/`). Requests without an Origin (servers,
    curl) pass here and still need a valid token."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app, self.allowed = app, {o.rstrip("/") for o in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin")
            if origin is not None and not self._allowed(origin.decode("latin-1"), scope, headers):
                message = (
                    f"Browser requests from {origin.decode('latin-1')[:200]} are not allowed: the API's "
                    "ALLOWED_ORIGINS does not list that origin."
                )
                await error(403, "origin_not_allowed", message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        if origin.rstrip("/") in self.allowed:
            return True
        # Same origin: a browser sets Origin itself and sends Host for the URL it requested, so a page
        # of another site cannot make them match (and the token is still required).
        host = headers.get(b"host", b"").decode("latin-1")
        return bool(host) and origin.lower() == f"{scope.get('scheme', 'http')}://{host}".lower()


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
            await error(413, "payload_too_large", too_large(self.max_bytes))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await error(413, "payload_too_large", too_large(self.max_bytes))(scope, receive, send)


class _TooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it (it turns any other exception into a
    400) and the app's handler renders the 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large(max_bytes))
