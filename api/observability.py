"""Prometheus metrics of the API (requests by route and status, latency, waiting requests) and the
request id that follows a chat into the worker's logs."""

import time
import uuid

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import logs

REQUESTS = Counter("taskchat_http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "taskchat_http_request_duration_seconds",
    "Time to the response's first byte.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
WAITING = Gauge("taskchat_api_waiting_requests", "Chat requests waiting for their run (JSON and SSE).")
RUNS_ACCEPTED = Counter("taskchat_runs_accepted_total", "Runs created by chat requests.")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                LATENCY.labels(scope["method"], _route(scope)).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            REQUESTS.labels(scope["method"], _route(scope), str(status)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestIdMiddleware:
    """Takes `X-Request-ID` from the caller (or makes one), binds it to the logs and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            given if 0 < len(given) <= 64 and given.isascii() and given.isprintable() else uuid.uuid4().hex
        )
        logs.bind(request_id=request_id)

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, with_header)
