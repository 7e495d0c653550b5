"""The model's HTTP client: one `AsyncOpenAI` per worker process, on aiohttp rather than httpx2.

With hundreds of calls in flight httpx2's connection pool scans every connection on each request and
each close, which made the client the largest cost of a slow chat after the Agents SDK itself
(docs/performance.md, #19.4). aiohttp's connector keeps idle connections per host and does no such scan.

The client is built on the actors' event loop (aiohttp binds its session to the loop of the first
request) and closed with the worker's runtime.

The transport that openai vendors maps every aiohttp connection error to `httpx2.ConnectTimeout`, so
that a refused connection or a server hanging up would reach us as `APITimeoutError` ("took too long").
`_Transport` restores httpx2's own types: a failed connect is `ConnectError`, a dropped connection
`RemoteProtocolError`, and the openai client turns both into `APIConnectionError`, as it does on httpx2.
"""

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport

from common.settings import Settings


def make_client(settings: Settings) -> AsyncOpenAI:
    # No retries in the client: worker/gemini.py's PacedModel retries with the shared pace, Gemini's
    # retry delays and the breaker in view; the client's own loop would retry each 429 in step with others.
    return AsyncOpenAI(
        api_key=settings.gemini_api_key,
        base_url=settings.gemini_base_url,
        max_retries=0,
        timeout=settings.model_timeout_s,
        http_client=_Client(),
    )


@contextlib.contextmanager
def _connection_errors() -> Iterator[None]:
    try:
        yield
    except httpx2.ConnectTimeout as exc:
        cause = exc.__cause__
        if not isinstance(cause, aiohttp.ClientConnectionError) or isinstance(cause, TimeoutError):
            raise  # a real timeout
        if isinstance(cause, aiohttp.ClientConnectorError):
            raise httpx2.ConnectError(str(cause)) from cause
        raise httpx2.RemoteProtocolError(str(cause) or type(cause).__name__) from cause


class _Stream(AiohttpResponseStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _connection_errors():
            async for chunk in super().__aiter__():
                yield chunk


class _Transport(AiohttpTransport):
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        with _connection_errors():
            response = await super().handle_async_request(request)
        stream = response.stream
        if isinstance(stream, AiohttpResponseStream):
            response.stream = _Stream(stream._aiohttp_response)
        return response


class _Client(DefaultAioHttpClient):  # type: ignore[misc,valid-type]
    """openai's defaults (timeouts, up to 1000 connections, redirects), with `_Transport`."""

    def _init_transport(self, **kwargs: Any) -> httpx2.AsyncBaseTransport:
        transport = kwargs.pop("transport", None)
        return transport if transport is not None else _Transport(**kwargs)

    def _init_proxy_transport(self, proxy: httpx2.Proxy, **kwargs: Any) -> httpx2.AsyncBaseTransport:
        return _Transport(proxy=proxy, **kwargs)  # a proxy from the environment (HTTPS_PROXY)
