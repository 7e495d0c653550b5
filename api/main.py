"""The FastAPI app: stateless; everything it knows lives in Postgres."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import redis.asyncio as aredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from api.listener import RunListener
from api.middleware import BodyLimit, OriginGuard, error
from api.observability import WAITING, MetricsMiddleware, RequestIdMiddleware
from api.routes import chat, conversations, events, health, tasks
from api.routes import page as chat_page
from common.auth import TokenVerifier, key_source_problem
from common.db import Database
from common.errors import ConfigError, TaskchatError
from common.heap import freeze_startup_heap
from common.jobs import RunQueue
from common.settings import Settings, get_settings

log = logging.getLogger("taskchat.api")
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


def _explain(request: Request, exc: RequestValidationError) -> str:
    """What is wrong with the request, in words: where JSON breaks, which header to send, which field."""
    problems = exc.errors()
    for e in problems:
        if e.get("type") == "json_invalid":
            doc = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
            at = e["loc"][-1] if isinstance(e["loc"][-1], int) else 0
            line, column = doc.count("\n", 0, at) + 1, at - doc.rfind("\n", 0, at)
            reason = e.get("ctx", {}).get("error", "invalid JSON")
            return f"The request body is not valid JSON: {reason} at line {line}, column {column}."
        if tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes):
            # FastAPI parses JSON only when the Content-Type says so; anything else arrives as raw bytes.
            sent = request.headers.get("content-type")
            said = f"it said {sent!r}" if sent else "it had none"
            return f"Send the body as JSON, with the header Content-Type: application/json ({said})."
        if tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing":
            return "The request body is empty; send a JSON object."
    messages = []
    for e in problems:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        messages.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
    return "; ".join(messages)[:1000] or "Invalid request."


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if problem := key_source_problem(settings):
        raise ConfigError(problem)  # before serving anything: an API that cannot verify tokens stays down

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.settings = settings
        # One engine per process: its sessions serve the ordinary paths, its Core statements the chat.
        state.db = Database(settings)
        state.sessions = state.db.sessions
        # A burst of hundreds of chats waits for one of the 32 connections (the process is busy, so each
        # is held longer) rather than answering 503; Redis being down fails at connect, not here.
        state.redis = aredis.Redis(
            connection_pool=aredis.BlockingConnectionPool.from_url(
                settings.redis_url, max_connections=32, timeout=30, socket_connect_timeout=2, socket_timeout=5
            )
        )
        state.queue = RunQueue(state.redis, settings)
        state.http = httpx2.AsyncClient()
        state.verifier = TokenVerifier(settings, state.http)
        state.listener = RunListener(settings.redis_url, settings.redis_prefix)
        await state.listener.start()
        with contextlib.suppress(TimeoutError):  # serve meanwhile: waiters fall back to Postgres
            await asyncio.wait_for(state.listener.connected.wait(), timeout=2.0)
        WAITING.set_function(lambda: state.listener.waiting)
        try:
            yield
        finally:
            await state.listener.stop()
            await state.http.aclose()
            await state.redis.aclose()
            await state.db.close()

    app = FastAPI(
        title="taskchat",
        version="0.1.0",
        lifespan=lifespan,
        description="Backend of an AI todo assistant: chat, and an agent manages your tasks.",
    )
    app.include_router(chat.router)
    app.include_router(conversations.router)
    app.include_router(tasks.router)
    app.include_router(events.router)
    app.include_router(health.router)
    app.include_router(chat_page.router)  # the built-in chat page at /
    if settings.dev_tokens:  # development only: not even mounted otherwise
        app.include_router(chat_page.dev_router)

    @app.exception_handler(TaskchatError)
    async def on_taskchat_error(request: Request, exc: TaskchatError) -> JSONResponse:
        return error(exc.status_code, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "validation_error", _explain(request, exc))

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's "error parsing the body" (invalid UTF-8, nesting too deep for the parser, a number
            # with too many digits): an invalid body like any other invalid JSON, so 422.
            reason = "it nests too deeply" if isinstance(exc.__cause__, RecursionError) else exc.__cause__
            return error(422, "validation_error", f"The request body is not valid JSON: {reason}."[:500])
        return error(
            exc.status_code,
            STATUS_CODES.get(exc.status_code, "error"),
            str(exc.detail),
            dict(exc.headers or {}),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def on_database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("api.database_unavailable error=%r", exc)
        return error(503, "unavailable", "The database is unavailable; please retry.", {"Retry-After": "2"})

    @app.exception_handler(RedisError)
    async def on_redis_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("api.redis_unavailable error=%r", exc)
        return error(
            503, "unavailable", "The message broker is unavailable; please retry.", {"Retry-After": "2"}
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unexpected_error")
        return error(500, "internal_error", "Something went wrong on our side.")

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=[
            "authorization",
            "content-type",
            "idempotency-key",
            "last-event-id",
            "chatkit-frame-instance-id",
            "x-timezone",
        ],
        expose_headers=["retry-after"],
        max_age=600,
    )
    app.add_middleware(OriginGuard, allowed=settings.allowed_origins)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app


def create_served_app() -> FastAPI:
    """The app `taskchat api` serves, in each of its processes: built, then the garbage collector set for
    a long-lived server (`common.heap`). Tests build many apps in one process and use `create_app`."""
    app = create_app()
    freeze_startup_heap()
    return app
