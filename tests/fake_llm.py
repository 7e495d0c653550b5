"""A fake of Gemini's OpenAI-compatible Chat Completions endpoint, served by a real uvicorn on loopback.

It speaks the wire protocol the `openai` client speaks (`POST {base_url}chat/completions`, JSON or SSE
with `data: [DONE]`), and copies the Gemini behaviours our worker depends on:

- every tool-call step carries `extra_content: {"google": {"thought_signature": ...}}` on its first tool
  call (Gemini signs the first call of a parallel set), and a request whose *current-turn* tool calls
  (after the last user message) come back without a signature it issued is rejected with Gemini's 400;
- errors are Gemini's shape: a JSON list `[{"error": {"code", "message", "status"}}]`;
- a wrong API key is a 400 `API_KEY_INVALID`, as Google answers it.

Every request is recorded (`fake.requests`, `fake.bodies`) before it is judged, so tests can assert on
exactly what the client sent, including rejected and retried requests.

Scripting: `FakeLLM(script)` where `script` is a list of replies consumed in order, or a callable that
decides the reply from the request body. A reply is `text(...)`, `tool_call(...)`/`tool_calls(...)`,
`Failure(status)`, `Hang(seconds)` or `Stall(seconds)`. `fail_next(n, status)` and `hang_next(n, s)`
queue failures ahead of the script.

Modes, as Gemini's quotas and outages behave (judged before the script, which they do not consume):
- quota: `set_quota(Quota(per_window=5, window_s=1.0), model=...)` accepts at most `per_window` requests
  in any rolling window (a "minute" scaled down for tests) and `per_day` in all; beyond, a 429 in Gemini's
  shape (QuotaFailure with a per-minute or per-day `quotaId`, Help, RetryInfo with `retryDelay` such as
  "0.8s": when the window frees a slot, unless `retry_delay_s` says otherwise). Each per-window 429 opens
  a pause until its delay; `early` lists the requests for that model that arrived during one.
- overload: `overloaded = True` answers every request 503 UNAVAILABLE ("The model is overloaded").
- slow: `delay_s` delays every answer.
"""

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.helpers import ServerThread, free_port

PATH = "/v1beta/openai/chat/completions"
SIGNATURE_ERROR = (
    "Function call is missing a thought_signature in functionCall parts. This is required for tools to "
    "work correctly, and missing thought_signature may lead to degraded model performance. Additional "
    "data, function call `default_api:{name}` , position {position}. Please refer to "
    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)
QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_STATUS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in the troubleshooting guide."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}


# --- replies ---------------------------------------------------------------------------------


@dataclass
class Call:
    name: str
    arguments: dict[str, Any] | str  # a str is sent as is (lets a test send malformed JSON)
    id: str | None = None


@dataclass
class Reply:
    content: str | None = None
    calls: list[Call] = field(default_factory=list)


@dataclass
class Failure:
    status: int = 429
    message: str | None = None
    retry_after_ms: int | None = None  # sent as `retry-after-ms` (the openai client honours it)


@dataclass
class Hang:
    """Accept the request and answer nothing (no headers) for `seconds`."""

    seconds: float = 30.0


@dataclass
class Stall:
    """Send the headers and a first chunk of `then` (streaming), then go silent for `seconds`."""

    seconds: float = 30.0
    then: Reply = field(default_factory=lambda: Reply(content="Let me"))


@dataclass
class Quota:
    per_window: int | None = None  # requests per rolling window ("per minute")
    window_s: float = 60.0
    per_day: int | None = None
    retry_delay_s: float | None = (
        None  # the RetryInfo sent with a per-window 429 (default: until a slot frees)
    )


Action = Reply | Failure | Hang | Stall
Script = list[Action] | Callable[[dict[str, Any]], Action]


def text(content: str) -> Reply:
    return Reply(content=content)


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None) -> Reply:
    return Reply(calls=[Call(name, arguments, call_id)])


def tool_calls(*calls: Call) -> Reply:
    return Reply(calls=list(calls))


def after_tool_result(body: dict[str, Any]) -> bool:
    """The request's last message is a tool result: the model is being asked to go on after a call."""
    messages = body.get("messages") or []
    return bool(messages) and messages[-1].get("role") == "tool"


def tool_then_text(
    name: str, arguments: dict[str, Any] | str, answer: str
) -> Callable[[dict[str, Any]], Action]:
    """The usual agent turn: a tool call first, then, once the result is back, a text answer."""
    return lambda body: text(answer) if after_tool_result(body) else tool_call(name, arguments)


# --- recorded requests -----------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0  # what the fake answered (0 while it is still answering)
    error: str | None = None
    error_body: Any = None  # the error JSON it answered with


# --- the server ------------------------------------------------------------------------------


class FakeLLM:
    def __init__(
        self,
        script: Script | None = None,
        *,
        api_key: str = "test-key",
        model: str = "gemini-2.5-flash",
        delay_s: float = 0.0,
        chunk_chars: int = 8,
        split_tool_arguments: bool = False,
    ) -> None:
        self.api_key, self.model = api_key, model
        self.delay_s = delay_s  # before every answer: a slow model
        self.chunk_chars = chunk_chars  # text is streamed in pieces of this size
        # Gemini sends a tool call's arguments whole; OpenAI streams them in fragments. Both must work.
        self.split_tool_arguments = split_tool_arguments
        self.requests: list[Recorded] = []
        self.signatures: dict[str, str] = {}  # signature -> tool call id it was issued with
        self._lock = threading.Lock()
        self._queue: deque[Action] = deque()
        self._decide: Callable[[dict[str, Any]], Action] | None = None
        self._failures: deque[Action] = deque()
        self._stopping = threading.Event()
        self.overloaded = False
        self.quotas: dict[str, Quota] = {}  # model -> its quota
        self._accepted: dict[str, deque[float]] = {}  # model -> arrivals inside its window
        self._today: dict[str, int] = {}  # model -> requests accepted "today"
        self.pauses: list[tuple[str, float, float]] = []  # (model, 429 sent at, its retryDelay ends)
        self._server: ServerThread | None = None
        self.port = 0
        self.set_script(script)
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    # scripting

    def set_script(self, script: Script | None) -> None:
        with self._lock:
            self._queue.clear()
            self._decide = None
            if callable(script):
                self._decide = script
            elif script is not None:
                self._queue.extend(script)

    def add(self, *actions: Action) -> None:
        with self._lock:
            self._queue.extend(actions)

    def fail_next(self, n: int, status: int = 429, retry_after_ms: int | None = None) -> None:
        with self._lock:
            self._failures.extend(Failure(status, retry_after_ms=retry_after_ms) for _ in range(n))

    def hang_next(self, n: int, seconds: float = 30.0) -> None:
        with self._lock:
            self._failures.extend(Hang(seconds) for _ in range(n))

    def set_quota(self, quota: Quota | None, model: str | None = None) -> None:
        """A quota for `model` (default: the fake's), counted afresh; None lifts it."""
        model = model or self.model
        with self._lock:
            self._accepted.pop(model, None)
            self._today.pop(model, None)
            if quota is None:
                self.quotas.pop(model, None)
            else:
                self.quotas[model] = quota

    def _over_quota(self, model: str, at: float) -> tuple[str, float] | None:
        """None when the request is within its model's quota (and counts it); else (quota id, delay)."""
        with self._lock:
            quota = self.quotas.get(model)
            if quota is None:
                return None
            if quota.per_day is not None and self._today.get(model, 0) >= quota.per_day:
                return "GenerateRequestsPerDayPerProjectPerModel-FreeTier", 3600.0
            accepted = self._accepted.setdefault(model, deque())
            while accepted and accepted[0] <= at - quota.window_s:
                accepted.popleft()
            if quota.per_window is not None and len(accepted) >= quota.per_window:
                delay = quota.retry_delay_s
                if delay is None:
                    delay = accepted[0] + quota.window_s - at
                self.pauses.append((model, at, at + delay))
                return "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", delay
            accepted.append(at)
            self._today[model] = self._today.get(model, 0) + 1
            return None

    @property
    def early(self) -> list[Recorded]:
        """Requests that arrived after a per-window 429 for their model and before its retryDelay ended."""
        return [
            r
            for r in self.requests
            if isinstance(r.body, dict)
            and any(m == r.body.get("model") and start < r.at < end for m, start, end in self.pauses)
        ]

    def _next_action(self, body: dict[str, Any]) -> Action:
        with self._lock:
            if self._failures:
                return self._failures.popleft()
            if self._queue:
                return self._queue.popleft()
            decide = self._decide
        if decide is not None:
            return decide(body)
        # Not retryable, so a test that ran out of script fails fast and says why.
        return Failure(500, message="fake LLM: no scripted reply left")

    # what tests read

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == PATH]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta/openai/"

    # lifecycle

    def start(self) -> "FakeLLM":
        self.port = free_port()
        self._server = ServerThread(self.app, self.port).__enter__()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hung and stalled answers so uvicorn can shut down
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # the endpoint

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = Recorded(request.method, request.url.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        response = await self._answer(request, record)
        record.status = response.status_code
        return response

    async def _answer(self, request: Request, record: Recorded) -> Response:
        if record.method != "POST" or record.path != PATH:
            return _error(404, f"fake LLM: no route {record.method} {record.path}", record)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(
                400,
                "API key not valid. Please pass a valid API key.",
                record,
                status_text="INVALID_ARGUMENT",
                reason="API_KEY_INVALID",
            )
        body = record.body
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.", record)
        problem = _check_shape(body) or self._check_signatures(body)
        if problem:
            return _error(400, problem, record)
        if self.overloaded:
            return _error(503, _STATUS[503][1], record)
        over = self._over_quota(body["model"], record.at)
        if over is not None:
            return _quota_error(record, body["model"], *over)

        action = self._next_action(body)
        if isinstance(action, Hang):
            await self._wait(request, action.seconds)
            return _error(504, "fake LLM: hung", record)  # nobody is listening by now
        if self.delay_s:
            await self._wait(request, self.delay_s)
        if isinstance(action, Failure):
            status_text, default = _STATUS.get(action.status, ("UNKNOWN", "error"))
            response = _error(action.status, action.message or default, record, status_text=status_text)
            if action.retry_after_ms is not None:
                response.headers["retry-after-ms"] = str(action.retry_after_ms)
            if action.message and action.message.startswith("fake LLM"):
                response.headers["x-should-retry"] = "false"
            return response
        stream = bool(body.get("stream"))
        if isinstance(action, Stall):
            if not stream:
                await self._wait(request, action.seconds)
                return _error(504, "fake LLM: stalled", record)
            chunks = self._chunks(action.then)
            return _sse(self._stalled(request, chunks[:1], action.seconds))
        if stream:
            return _sse(_aiter(self._chunks(action)))
        return JSONResponse(self._completion(action))

    async def _wait(self, request: Request, seconds: float) -> None:
        """Sleep, but stop early when the test ends or the client hangs up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    async def _stalled(self, request: Request, first: list[str], seconds: float) -> AsyncIterator[str]:
        for chunk in first:
            yield chunk
        await self._wait(request, seconds)

    def _check_signatures(self, body: dict[str, Any]) -> str | None:
        messages = body.get("messages") or []
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        for index, message in enumerate(messages):
            if message.get("role") != "assistant" or not message.get("tool_calls"):
                continue
            if index < last_user:
                continue  # earlier turns are not validated
            first = message["tool_calls"][0]
            signature = ((first.get("extra_content") or {}).get("google") or {}).get("thought_signature")
            if signature not in self.signatures:
                name = (first.get("function") or {}).get("name", "")
                return SIGNATURE_ERROR.format(name=name, position=index + 1)
        return None

    # replies on the wire

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        calls = []
        for n, call in enumerate(reply.calls):
            call_id = call.id or f"function-call-{uuid.uuid4().hex[:16]}"
            arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            wire: dict[str, Any] = {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
            if n == 0:  # Gemini signs the first call of a step
                signature = f"sig-{uuid.uuid4().hex}"
                with self._lock:
                    self.signatures[signature] = call_id
                wire["extra_content"] = {"google": {"thought_signature": signature}}
            calls.append(wire)
        return calls

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model,
        }

    @staticmethod
    def _usage() -> dict[str, int]:
        return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}

    def _completion(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.calls:
            message["tool_calls"] = self._tool_calls(reply)
        finish = "tool_calls" if reply.calls else "stop"
        return {
            **self._envelope("chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(),
        }

    def _chunks(self, reply: Reply) -> list[str]:
        envelope = self._envelope("chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return "data: " + json.dumps({**envelope, "choices": [choice], **extra}) + "\n\n"

        out = []
        content = reply.content or ""
        pieces = [content[i : i + self.chunk_chars] for i in range(0, len(content), self.chunk_chars)]
        for n, piece in enumerate(pieces):
            out.append(chunk({"role": "assistant", "content": piece} if n == 0 else {"content": piece}))
        for index, call in enumerate(self._tool_calls(reply) if reply.calls else []):
            delta = {"index": index, **call}
            if not self.split_tool_arguments:
                out.append(chunk({"role": "assistant", "tool_calls": [delta]}))
                continue
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            first = {**delta, "function": {"name": call["function"]["name"], "arguments": arguments[:half]}}
            out.append(chunk({"role": "assistant", "tool_calls": [first]}))
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]}))
        finish = "tool_calls" if reply.calls else "stop"
        out.append(chunk({}, finish, usage=self._usage()))
        out.append("data: [DONE]\n\n")
        return out


def _check_shape(body: dict[str, Any]) -> str | None:
    """What any Chat Completions server rejects: a protocol error is a 400, like Gemini's."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    open_calls: set[str] = set()
    for n, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{n}]: unknown role {role!r}"
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                open_calls.add(call.get("id"))
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                return f"messages[{n}]: a tool message answers no earlier tool call"
            if "content" not in message:
                return f"messages[{n}]: a tool message needs content"
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not (tool.get("function") or {}).get("name"):
            return "tools: each tool must be {type: function, function: {name, ...}}"
        problem = _gemini_schema_problem(tool["function"].get("parameters") or {}, tool["function"]["name"])
        if problem:
            return problem
    return None


def _gemini_schema_problem(schema: Any, where: str) -> str | None:
    """The JSON-Schema forms Gemini's function declarations reject (notes: gemini-tool-calling.md): a
    property that is only `anyOf [..., {type: null}]`, a `type` given as a list, `additionalProperties`."""
    if isinstance(schema, list):
        return next(
            (p for n, s in enumerate(schema) if (p := _gemini_schema_problem(s, f"{where}[{n}]"))), None
        )
    if not isinstance(schema, dict):
        return None
    if "additionalProperties" in schema:
        return f"Invalid JSON payload received. Unknown name \"additionalProperties\" at '{where}'"
    if isinstance(schema.get("type"), list):
        return f"Invalid JSON payload received. Proto field is not repeating, at '{where}.type'"
    if "anyOf" in schema and "type" not in schema and {"type": "null"} in schema["anyOf"]:
        return f"Invalid JSON payload received. Unknown name \"anyOf\" with a null type at '{where}'"
    for key, value in schema.items():
        problem = _gemini_schema_problem(value, f"{where}.{key}")
        if problem:
            return problem
    return None


def _error(
    status: int,
    message: str,
    record: Recorded,
    *,
    status_text: str | None = None,
    reason: str | None = None,
) -> JSONResponse:
    record.error = message
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": status_text or _STATUS.get(status, ("UNKNOWN", ""))[0],
    }
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    record.error_body = [{"error": error}]
    return JSONResponse(record.error_body, status_code=status)


def _quota_error(record: Recorded, model: str, quota_id: str, delay_s: float) -> JSONResponse:
    """Gemini's 429 (the shape of /work/shared/notes/gemini-quotas.md)."""
    daily = "PerDay" in quota_id
    record.error = f"quota {quota_id}"
    error = {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": QUOTA_METRIC,
                        "quotaId": quota_id,
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "250" if daily else "10",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{delay_s:.3f}".rstrip("0").rstrip(".") + "s",
            },
        ],
    }
    record.error_body = [{"error": error}]
    return JSONResponse(record.error_body, status_code=429)


def _sse(chunks: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def _aiter(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        yield item
