"""The chat endpoint's streaming mode: relays a run's events as Server-Sent Events.

Order: the request subscribes to the run's channel before the run is enqueued, then replays what the
Redis stream already holds after `Last-Event-ID`, then goes on live, skipping anything already sent, so
there is no gap and no duplicate. `done` carries exactly the JSON of the non-streaming mode, read from
Postgres. No database session is held while streaming; Postgres is only read briefly at the end (and
every second as a fallback should an event be lost).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aredis
from sse_starlette import JSONServerSentEvent

from api.services.chat import RUN_STATUS, chat_result, run_finished
from common import answers
from common.db import Database
from common.events import TERMINAL, RunEvent, read_after
from common.models import Run, RunStatus

log = logging.getLogger("taskchat.stream")
FALLBACK_POLL_S = 1.0


class RunStream:
    def __init__(
        self,
        *,
        db: Database,
        redis: aredis.Redis,
        prefix: str,
        run: Run,
        user_id: str,
        events: "asyncio.Queue[RunEvent]",
        last_event_id: int | None,
        timeout_s: float,
        on_close: contextlib.AsyncExitStack,
    ) -> None:
        self.db, self.redis, self.prefix = db, redis, prefix
        self.run_id, self.conversation_id, self.user_id = run.id or 0, run.conversation_id, user_id
        self.events, self.last_event_id, self.timeout_s = events, last_event_id, timeout_s
        self.on_close = on_close
        self.sent = last_event_id or 0

    async def __aiter__(self) -> AsyncIterator[JSONServerSentEvent]:
        try:
            if self.last_event_id is None:
                yield JSONServerSentEvent(
                    {"run_id": self.run_id, "conversation_id": self.conversation_id}, event="run", id="0"
                )
            async for event in self._relay():
                yield event
        finally:
            # Leaving unsubscribes; the run itself goes on whatever the client does.
            await self.on_close.aclose()

    async def _relay(self) -> AsyncIterator[JSONServerSentEvent]:
        deadline = time.monotonic() + self.timeout_s
        backlog = await read_after(self.redis, self.prefix, self.run_id, self.sent)
        if not backlog and await run_finished(self.db, self.run_id):
            async for event in self._rebuild():
                yield event
            return
        for event in backlog:
            yield await self._render(event)
            if event.event in TERMINAL:
                return
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(self.events.get(), timeout=min(remaining, FALLBACK_POLL_S))
            except TimeoutError:
                if await run_finished(self.db, self.run_id):  # an event was lost: catch up
                    for missed in await read_after(self.redis, self.prefix, self.run_id, self.sent):
                        yield await self._render(missed)
                        if missed.event in TERMINAL:
                            return
                    async for rebuilt in self._rebuild():
                        yield rebuilt
                    return
                continue
            if event.id <= self.sent:
                continue  # already replayed from the stream
            if event.id > self.sent + 1:  # a gap: fill it from the stream first
                for missed in await read_after(self.redis, self.prefix, self.run_id, self.sent):
                    if missed.id < event.id:
                        yield await self._render(missed)
            yield await self._render(event)
            if event.event in TERMINAL:
                return
        yield self._sse(
            "error",
            {
                "code": "timeout",
                "message": f"Run {self.run_id} did not finish in time; its "
                f"answer will land in conversation {self.conversation_id}.",
            },
            self.sent + 1,
        )

    async def _render(self, event: RunEvent) -> JSONServerSentEvent:
        data = event.data
        if event.event == "done":
            data = answers.carried(data) or await chat_result(
                self.db, run_id=self.run_id, user_id=self.user_id
            )
        return self._sse(event.event, data, event.id)

    def _sse(self, name: str, data: dict[str, Any], event_id: int) -> JSONServerSentEvent:
        self.sent = max(self.sent, event_id)
        return JSONServerSentEvent(data, event=name, id=str(event_id))

    async def _rebuild(self) -> AsyncIterator[JSONServerSentEvent]:
        """The run finished and Redis no longer has its events: rebuild them from Postgres. A client that
        resumes gets the final `done` (it carries the whole answer); a new reader gets the whole story."""
        status = await self.db.scalar(RUN_STATUS, {"run_id": self.run_id})
        result = await chat_result(self.db, run_id=self.run_id, user_id=self.user_id)
        number = self.sent
        if self.last_event_id is None:
            for call in result["tool_calls"]:
                yield self._sse(
                    "tool_call",
                    {"call_id": f"tc_{call['id']}", "name": call["name"], "arguments": call["arguments"]},
                    number := number + 1,
                )
                yield self._sse(
                    "tool_result",
                    {
                        "call_id": f"tc_{call['id']}",
                        "name": call["name"],
                        "result": call["result"] if call["status"] == "ok" else call["error"],
                    },
                    number := number + 1,
                )
            yield self._sse("delta", {"text": result["response"]}, number := number + 1)
        if status == RunStatus.failed:
            yield self._sse("error", {"code": "run_failed", "message": result["response"]}, number + 1)
        else:
            yield self._sse("done", result, number + 1)
