"""One Redis pub/sub connection per API process, shared by every waiting request.

A request subscribes to its run's channel on the shared connection (waiting for Redis to confirm)
before the run is enqueued, so no event can be missed; events are dispatched to per-request queues.
If the connection drops, the reader reconnects and resubscribes; waiters fall back to reading the run's
status from Postgres meanwhile.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aredis

from common.events import RunEvent, channel, decode_pubsub

log = logging.getLogger("taskchat.listener")


class RunListener:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self._queues: dict[str, set[asyncio.Queue[RunEvent]]] = defaultdict(set)
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._client: aredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._run(), name="run-listener")

    async def stop(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._close()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @contextlib.asynccontextmanager
    async def listen(self, run_id: int) -> AsyncIterator[asyncio.Queue[RunEvent]]:
        name = channel(self.prefix, run_id)
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        first = not self._queues[name]
        self._queues[name].add(queue)
        try:
            if first and self.connected.is_set():
                await self._subscribe(name)
            yield queue
        finally:
            self._queues[name].discard(queue)
            if not self._queues[name]:
                del self._queues[name]
                if self.connected.is_set():
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(name)

    async def _subscribe(self, name: str) -> None:
        confirmed = self._confirmed.setdefault(name, asyncio.get_running_loop().create_future())
        try:
            await self._pubsub.subscribe(name)
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=2.0)
        except Exception as exc:  # the waiter still has the database to fall back on
            log.warning("listener.subscribe_failed channel=%s error=%r", name, exc)
        finally:
            self._confirmed.pop(name, None)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                self._client = aredis.Redis.from_url(
                    self.redis_url, socket_connect_timeout=2, health_check_interval=15
                )
                self._pubsub = self._client.pubsub()
                await self._pubsub.subscribe(f"{self.prefix}:listener")
                if self._queues:
                    await self._pubsub.subscribe(*self._queues)
                self.connected.set()
                delay = 0.1
                while True:
                    message = await self._pubsub.get_message(timeout=None)
                    if message:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected.is_set():
                    log.warning("listener.disconnected error=%r", exc)
                self.connected.clear()
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _dispatch(self, message: dict[str, Any]) -> None:
        name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        if message["type"] == "subscribe":
            future = self._confirmed.get(name)
            if future and not future.done():
                future.set_result(None)
        elif message["type"] == "message":
            try:
                event = decode_pubsub(message["data"])
            except ValueError:
                return
            for queue in self._queues.get(name, ()):
                queue.put_nowait(event)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await self._pubsub.aclose()
            if self._client is not None:
                await self._client.aclose()
        self._pubsub = self._client = None
