"""Lean HTTP/1.1 on raw asyncio streams for the benchmarks: a keep-alive client and a slow fake Chat
Completions model. The load generator and the fake model share the machine's two cores with the system
under test, so what they cost is kept small (httpx and uvicorn/Starlette cost several times more per
request, which the first version of these benchmarks measured as if it were taskchat's).
"""

import asyncio
import json
import time
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
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1]) if lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


class SlowModel:
    """Chat Completions (`POST …/chat/completions`, JSON, not streamed) that answers after `delay_s`: a
    call of `add_task` first, then, once a tool result is in the messages, a short text. Every call
    costs the fake well under a millisecond of CPU; the wait costs nothing."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0

    async def serve(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", port, backlog=4096, limit=2**22)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                _, headers = await read_head(reader)
                body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
                await asyncio.sleep(self.delay_s)
                self.calls += 1
                answer = json.dumps(self._reply(body)).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if answered:
            message: dict[str, Any] = {"role": "assistant", "content": "Added “Slow task”."}
            reason = "stop"
        else:
            call = {
                "id": f"call_{self.calls}",
                "type": "function",
                "function": {"name": "add_task", "arguments": json.dumps({"title": "Slow task"})},
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


def main() -> None:
    import argparse

    import uvloop

    parser = argparse.ArgumentParser(description="A slow fake Chat Completions model for the benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=3.0)
    args = parser.parse_args()

    async def run() -> None:
        server = await SlowModel(args.delay).serve(args.port)
        async with server:
            await server.serve_forever()

    uvloop.run(run())


if __name__ == "__main__":
    main()
