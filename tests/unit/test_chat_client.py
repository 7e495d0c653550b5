"""worker/chat_client.py: the same requests as openai's own client, and the same exception types on
aiohttp as on httpx2."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest
from openai import omit

from common.settings import Settings
from worker.chat_client import ChatClient, make_client

COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "gemini-2.5-flash",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Done."}}],
}
CHUNK = {**COMPLETION, "object": "chat.completion.chunk"}
CHUNK["choices"] = [{"index": 0, "finish_reason": "stop", "delta": {"content": "Done."}}]


def sdk_kwargs(stream: bool) -> dict[str, Any]:
    """What the Agents SDK's `OpenAIChatCompletionsModel` passes, omitted settings included."""
    return {
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "You manage tasks."},
            {"role": "user", "content": "Add milk"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add_task", "arguments": '{"title": "milk"}'},
                        "extra_content": {"google": {"thought_signature": "c2ln"}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"id": 1, "title": "milk"}'},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "add_task",
                    "description": "Add a task.",
                    "parameters": {
                        "type": "object",
                        "properties": {"title": {"type": "string"}, "due_at": {"type": "string"}},
                        "required": ["title"],
                    },
                },
            }
        ],
        "temperature": 0.2,
        "top_p": omit,
        "frequency_penalty": omit,
        "presence_penalty": omit,
        "max_tokens": omit,
        "tool_choice": omit,
        "response_format": omit,
        "parallel_tool_calls": omit,
        "stream": True if stream else omit,
        "stream_options": omit,
        "store": omit,
        "reasoning_effort": omit,
        "verbosity": omit,
        "top_logprobs": omit,
        "prompt_cache_retention": omit,
        "prompt_cache_options": omit,
        "extra_headers": {"User-Agent": "Agents/Python"},
        "extra_query": None,
        "extra_body": None,
        "metadata": omit,
    }


async def sent_by(client_class: type[openai.AsyncOpenAI], stream: bool) -> httpx2.Request:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        if stream:
            body = f"data: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode()
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=COMPLETION)

    client = client_class(
        api_key="test-key",
        base_url="http://gemini.test/v1beta/openai/",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    result = await client.chat.completions.create(**sdk_kwargs(stream))
    if stream:
        chunks = [chunk async for chunk in result]
        assert [chunk.choices[0].delta.content for chunk in chunks] == ["Done."]
    else:
        assert result.choices[0].message.content == "Done."
    await client.close()
    (request,) = sent
    return request


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_the_request_is_the_one_openai_sends(stream: bool) -> None:
    ours, theirs = await sent_by(ChatClient, stream), await sent_by(openai.AsyncOpenAI, stream)
    assert (ours.method, ours.url) == (theirs.method, theirs.url)
    assert json.loads(ours.content) == json.loads(theirs.content)
    assert json.loads(ours.content)["temperature"] == 0.2 and "top_p" not in json.loads(ours.content)
    different = {"idempotency-key"}  # random per request
    assert {k: v for k, v in ours.headers.items() if k not in different} == {
        k: v for k, v in theirs.headers.items() if k not in different
    }


def client_for(base_url: str) -> openai.AsyncOpenAI:
    settings = Settings(
        _env_file=None, llm_provider="gemini", gemini_api_key="k", gemini_base_url=base_url, model_timeout_s=5
    )
    return make_client(settings)


async def create(client: openai.AsyncOpenAI) -> Any:
    return await client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}]
    )


@contextlib.asynccontextmanager
async def a_server(answer: bytes | None) -> AsyncIterator[str]:
    """A local server that reads the request, then answers `answer` (or nothing) and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1beta/openai/"
    finally:
        server.close()


class TestErrorsOnAiohttp:
    """openai's vendored aiohttp transport maps every connection error to a connect *timeout*; PacedModel
    and the run's readable reason tell a timeout ("took too long") from a connection error."""

    async def test_a_refused_connection_is_a_connection_error(self) -> None:
        async with a_server(None) as url:
            pass  # the server is closed again: its port refuses
        client = client_for(url)
        with pytest.raises(openai.APIConnectionError) as caught:
            await create(client)
        assert not isinstance(caught.value, openai.APITimeoutError)
        assert isinstance(caught.value.__cause__, httpx2.ConnectError)
        await client.close()

    async def test_a_server_hanging_up_is_a_connection_error(self) -> None:
        async with a_server(None) as url:
            client = client_for(url)
            with pytest.raises(openai.APIConnectionError) as caught:
                await create(client)
            assert not isinstance(caught.value, openai.APITimeoutError)
            assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
            await client.close()

    async def test_a_body_cut_short_is_a_connection_error(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
        async with a_server(head) as url:
            client = client_for(url)
            with pytest.raises(openai.APIConnectionError) as caught:
                await create(client)
            assert not isinstance(caught.value, openai.APITimeoutError)
            await client.close()

    async def test_an_answer_and_an_http_error_pass_as_on_httpx2(self) -> None:
        body = json.dumps(COMPLETION).encode()
        ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )
        async with a_server(ok) as url:
            client = client_for(url)
            assert (await create(client)).choices[0].message.content == "Done."
            await client.close()
        refusal = json.dumps([{"error": {"code": 503, "status": "UNAVAILABLE"}}]).encode()
        overloaded = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (
            len(refusal),
            refusal,
        )
        async with a_server(overloaded) as url:
            client = client_for(url)
            with pytest.raises(openai.InternalServerError) as caught:
                await create(client)
            assert caught.value.status_code == 503 and caught.value.body == json.loads(refusal)
            await client.close()
