"""Lean HTTP/1.1 on raw asyncio streams for the benchmarks: a keep-alive client and a slow fake Chat
Completions model. The load generator and the fake model share the machine's two cores with the system
under test, so what they cost is kept small (httpx and uvicorn/Starlette cost several times more per
request, which the first version of these benchmarks measured as if it were taskchat's).
"""

import asyncio
import json
import re
import time
from collections import deque
from typing import Any


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**20)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{head}\r\n".encode()
            + payload
        )
        status, response_headers = await read_head(self.reader)
        data = await self.reader.readexactly(int(response_headers.get("content-length", "0")))
        if response_headers.get("connection") == "close":
            await self.close()
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    first, headers = await read_message_head(reader)
    return (int(first.split(" ", 2)[1]) if first.startswith("HTTP/") else 0), headers


async def read_message_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    """The first line (request or status line) and the headers, names in lower case."""
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class SlowModel:
    """Chat Completions (`POST …/chat/completions`, JSON or SSE) that answers after `delay_s`: a call of
    `add_task` first (the title is what follows "Add a task to" / "remind me to" in the last user message),
    then, once a tool result is in the messages, a short text naming it. Every call costs the fake well
    under a millisecond of CPU; the wait costs nothing.

    With `rpm`, Gemini's quota: at most `rpm` requests accepted in any rolling `window_s`; beyond, a 429 in
    Gemini's shape whose RetryInfo says when the window has room. `GET /stats` counts both."""

    def __init__(self, delay_s: float, *, rpm: int | None = None, window_s: float = 60.0) -> None:
        self.delay_s, self.rpm, self.window_s = delay_s, rpm, window_s
        self.calls = 0
        self.limited = 0
        self.accepted: deque[float] = deque()
        self.arrivals: list[tuple[float, bool]] = []  # (time.monotonic(), a tool result in the messages)

    async def serve(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", port, backlog=4096, limit=2**22)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request, headers = await read_message_head(reader)
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                if request.startswith("GET /stats"):
                    stats = {"calls": self.calls, "limited": self.limited, "arrivals": self.arrivals}
                    writer.write(_response(200, "application/json", json.dumps(stats).encode()))
                    continue
                retry_s = self._over_quota()
                if retry_s is not None:
                    self.limited += 1
                    writer.write(_response(429, "application/json", _quota_error(retry_s)))
                    continue
                body = json.loads(raw)
                self.arrivals.append((time.monotonic(), _has_tool_result(body)))
                await asyncio.sleep(self.delay_s)
                self.calls += 1
                reply = self._reply(body)
                if body.get("stream"):
                    writer.write(_response(200, "text/event-stream", _as_chunks(reply)))
                else:
                    writer.write(_response(200, "application/json", json.dumps(reply).encode()))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _over_quota(self) -> float | None:
        """None if the request is within the quota (and counts it); else seconds until there is room."""
        if self.rpm is None:
            return None
        now = time.monotonic()
        while self.accepted and self.accepted[0] <= now - self.window_s:
            self.accepted.popleft()
        if len(self.accepted) >= self.rpm:
            return self.accepted[0] + self.window_s - now
        self.accepted.append(now)
        return None

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        asked = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        found = re.search(r"(?:add a task to|remind me to) (.+)", str(asked), re.IGNORECASE)
        title = found.group(1).strip() if found else "Slow task"
        if _has_tool_result(body):
            message: dict[str, Any] = {"role": "assistant", "content": f"Added “{title}”."}
            reason = "stop"
        else:
            call = {
                "id": f"call_{self.calls}",
                "type": "function",
                "function": {"name": "add_task", "arguments": json.dumps({"title": title})},
                "extra_content": {"google": {"thought_signature": f"sig-{self.calls}"}},
            }
            message, reason = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        return {
            "id": f"chatcmpl-{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gemini-2.5-flash"),
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }


def _has_tool_result(body: dict[str, Any]) -> bool:
    messages = body.get("messages", [])
    return bool(messages) and messages[-1].get("role") == "tool"


def _response(status: int, content_type: str, payload: bytes) -> bytes:
    reason = {200: "OK", 429: "Too Many Requests"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


def _as_chunks(reply: dict[str, Any]) -> bytes:
    """The same answer as Chat Completions chunks (one delta, then the finish with usage)."""
    choice = reply["choices"][0]
    delta = {key: value for key, value in choice["message"].items() if value is not None}
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": 0, **call} for call in delta["tool_calls"]]
    base = {key: reply[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
        | {"usage": reply["usage"]},
    ]
    return "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"


def _quota_error(retry_s: float) -> bytes:
    """Gemini's 429 for a per-minute quota (a JSON list of one error; see tests/fake_llm.py)."""
    error = {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}],
            },
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{max(retry_s, 0.001):.3f}s",
            },
        ],
    }
    return json.dumps([{"error": error}]).encode()


def main() -> None:
    import argparse

    import uvloop

    parser = argparse.ArgumentParser(description="A slow fake Chat Completions model for the benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--rpm", type=int, default=None, help="a Gemini quota: requests per rolling minute")
    args = parser.parse_args()

    async def run() -> None:
        server = await SlowModel(args.delay, rpm=args.rpm).serve(args.port)
        async with server:
            await server.serve_forever()

    uvloop.run(run())


if __name__ == "__main__":
    main()
