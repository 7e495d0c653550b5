"""The model's HTTP client: one `AsyncOpenAI` per worker process, on aiohttp rather than httpx2, and
without openai's per-call walk of the request's parameters.

With hundreds of calls in flight httpx2's connection pool scans every connection on each request and
each close; aiohttp's connector keeps idle connections per host and does no such scan. And before each
request `chat.completions.create` walks the messages and tools against their TypedDicts (every member
of every union) to rename and reformat fields, which for Chat Completions renames and reformats
nothing: it was a tenth of the worker's CPU with 500 runs in flight (docs/performance.md, #19.4).

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
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from openai._base_client import make_request_options
from openai._compat import cached_property
from openai._types import not_given
from openai._utils import is_given
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport
from openai.lib._chat_completion_resources import validate_response_format
from openai.resources.chat import AsyncChat, AsyncCompletions
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from common.settings import Settings


def make_client(settings: Settings) -> AsyncOpenAI:
    # No retries in the client: worker/gemini.py's PacedModel retries with the shared pace, Gemini's
    # retry delays and the breaker in view; the client's own loop would retry each 429 in step with others.
    return ChatClient(
        api_key=settings.gemini_api_key,
        base_url=settings.gemini_base_url,
        max_retries=0,
        timeout=settings.model_timeout_s,
        http_client=_Client(),
    )


class _Completions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:  # type: ignore[override]
        """`AsyncCompletions.create` less `async_maybe_transform`: the same request, omitted values
        dropped as it drops them (tests/unit/test_chat_client.py compares the two)."""
        validate_response_format(params.get("response_format"))
        options = make_request_options(
            extra_headers=params.pop("extra_headers", None),
            extra_query=params.pop("extra_query", None),
            extra_body=params.pop("extra_body", None),
            timeout=params.pop("timeout", not_given),
            security={"bearer_auth": True},
        )
        body = {key: value for key, value in params.items() if is_given(value)}
        return await self._post(
            "/chat/completions",
            body=body,
            options=options,
            cast_to=ChatCompletion,
            stream=body.get("stream") is True,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )


class _Chat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _Completions(self._client)


class ChatClient(AsyncOpenAI):
    """`AsyncOpenAI` whose `chat.completions.create` sends its parameters as they are: the Agents SDK
    passes plain JSON-ready dicts and lists."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _Chat(self)


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
