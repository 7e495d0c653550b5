"""`GET /api/{user_id}/events`: the user's feed of changes (common/userevents.py) as Server-Sent Events.

Order: the request follows the user's nudge channel first, then reads its position in PostgreSQL, then
sends what the feed holds after `Last-Event-ID` and waits: each nudge (or, should nudges be lost, a poll
every `POLL_S`) is followed by a read of what came after the last event sent. Event numbers follow
commit order, so "after the last one sent" has no gaps and no duplicates. No database connection is held
while waiting; the stream ends after `MAX_STREAM_S` and the client reconnects with `Last-Event-ID`.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import JSONServerSentEvent

from common.db import Database
from common.userevents import READ_AFTER

POLL_S = 30.0
MAX_STREAM_S = 900.0
READ_LIMIT = 200


def start(last: int, first: int | None, after: int | None) -> tuple[int, str | None]:
    """Where a stream starts (the last event number the client has), and why it must reload instead of
    catching up, if it must: events it has not seen are no longer kept, or its number is not ours."""
    if after is None:
        return last, None
    if after > last:
        return last, "unknown"
    kept_from = first if first is not None else last + 1
    if after < kept_from - 1:
        return last, "expired"
    return after, None


class UserFeed:
    def __init__(
        self,
        *,
        db: Database,
        user_id: str,
        nudges: "asyncio.Queue[bytes | None]",
        position: tuple[int, int | None],
        last_event_id: int | None,
        on_close: contextlib.AsyncExitStack,
    ) -> None:
        self.db, self.user_id, self.nudges, self.on_close = db, user_id, nudges, on_close
        self.sent, self.reload = start(*position, last_event_id)
        self.resumed = last_event_id is not None

    async def __aiter__(self) -> AsyncIterator[JSONServerSentEvent]:
        try:
            if self.reload is not None:
                yield self._event("resync", {"reason": self.reload, "last_event_id": self.sent}, self.sent)
            elif not self.resumed:
                yield self._event("ready", {"last_event_id": self.sent}, self.sent)
            deadline = time.monotonic() + MAX_STREAM_S
            while True:
                async for event in self._catch_up():
                    yield event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                await self._wait(min(remaining, POLL_S))
        finally:
            await self.on_close.aclose()  # stops following the channel

    async def _catch_up(self) -> AsyncIterator[JSONServerSentEvent]:
        while True:
            params = {"user_id": self.user_id, "after": self.sent, "limit": READ_LIMIT}
            rows = await self.db.all(READ_AFTER, params)
            for row in rows:
                yield self._event(row["kind"], row["data"], row["seq"])
            if len(rows) < READ_LIMIT:
                return

    async def _wait(self, timeout_s: float) -> None:
        """Until a nudge says there is something after the last event sent (or the poll is due)."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                nudge = await asyncio.wait_for(self.nudges.get(), timeout=remaining)
            except TimeoutError:
                return
            if nudge is None or _number(nudge) > self.sent:
                while not self.nudges.empty():  # one read covers every nudge that came meanwhile
                    self.nudges.get_nowait()
                return

    def _event(self, name: str, data: dict[str, Any], number: int) -> JSONServerSentEvent:
        self.sent = max(self.sent, number)
        return JSONServerSentEvent(data, event=name, id=str(number))


def _number(nudge: bytes) -> int:
    try:
        return int(nudge)
    except ValueError:
        return 2**62  # not ours to read: look at the feed
