"""One Redis pub/sub connection per API process, shared by every waiting request.

The process subscribes once, at start, to its own reply channel; a run it enqueues names that channel
and the worker publishes the run's events there too. So a request that submitted a run waits without a
Redis command of its own: it registers for the run's events before enqueueing, and no event can be
missed. A request that follows a run it did not enqueue (a resumed stream) subscribes to the run's own
channel, waiting for Redis to confirm before it reads what the run's stream already holds.

Events are dispatched to per-request queues by run id. If the connection drops, the reader reconnects
and resubscribes; waiters fall back to reading the run's status from Postgres meanwhile.

The same connection carries the users' event-feed nudges (`follow`): a channel is subscribed while at
least one stream of this process follows it. After a reconnection every follower is nudged, since
whatever was published meanwhile is gone.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aredis

from common.events import RunEvent, channel, decode_pubsub, reply_channel

log = logging.getLogger("taskchat.listener")


class RunListener:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self.reply_channel = reply_channel(prefix, uuid.uuid4().hex)
        self._queues: dict[int, set[asyncio.Queue[RunEvent]]] = defaultdict(set)
        self._followers: dict[str, set[asyncio.Queue[bytes | None]]] = defaultdict(set)
        # Channels subscribed besides the reply channel, with how many requests follow each.
        self._subscribed: dict[str, int] = {}
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
    async def listen(self, run_id: int, *, subscribe: bool = False) -> AsyncIterator[asyncio.Queue[RunEvent]]:
        """The run's events. `subscribe` for a run this process did not just enqueue."""
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        self._queues[run_id].add(queue)
        name = channel(self.prefix, run_id)
        try:
            if subscribe:
                await self._hold(name)
            yield queue
        finally:
            self._queues[run_id].discard(queue)
            if not self._queues[run_id]:
                del self._queues[run_id]
            if subscribe:
                await self._release(name)

    @contextlib.asynccontextmanager
    async def follow(self, name: str) -> AsyncIterator[asyncio.Queue[bytes | None]]:
        """What is published on the channel `name`, subscribed (and confirmed) before this yields; None
        after a reconnection (anything may have been missed)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._followers[name].add(queue)
        try:
            await self._hold(name)
            yield queue
        finally:
            self._followers[name].discard(queue)
            if not self._followers[name]:
                del self._followers[name]
            await self._release(name)

    async def _hold(self, name: str) -> None:
        self._subscribed[name] = self._subscribed.get(name, 0) + 1
        if self._subscribed[name] == 1 and self.connected.is_set():
            await self._subscribe(name)

    async def _release(self, name: str) -> None:
        self._subscribed[name] -= 1
        if not self._subscribed[name]:
            del self._subscribed[name]
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
                await self._pubsub.subscribe(self.reply_channel, *self._subscribed)
                self.connected.set()
                for followers in self._followers.values():
                    for follower in followers:
                        follower.put_nowait(None)
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
        if message["type"] == "subscribe":
            name = message["channel"]
            future = self._confirmed.get(name.decode() if isinstance(name, bytes) else name)
            if future and not future.done():
                future.set_result(None)
        elif message["type"] == "message":
            name = message["channel"]
            followers = self._followers.get(name.decode() if isinstance(name, bytes) else name)
            if followers:
                for follower in followers:
                    follower.put_nowait(message["data"])
                return
            try:
                event = decode_pubsub(message["data"])
            except ValueError:
                return
            # A request that both enqueued a run and follows its channel sees each event twice; readers
            # skip events by id.
            for queue in self._queues.get(event.run_id, ()):
                queue.put_nowait(event)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await self._pubsub.aclose()
            if self._client is not None:
                await self._client.aclose()
        self._pubsub = self._client = None
