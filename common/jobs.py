"""The Dramatiq broker and the names of our jobs. The API enqueues by actor name and never imports
the worker (which would drag in the Agents SDK).

`WakeRedisBroker` removes the idle pickup delay of Dramatiq's Redis consumer: stock consumers sleep
with a backoff of up to `worker_timeout` (1 s) when the queue is empty, which alone adds hundreds of
milliseconds to an idle chat. Producers push a token on a per-queue wake list after each enqueue and
an idle consumer blocks on that list (BLPOP) instead of sleeping. A token that arrives between an
empty fetch and the BLPOP stays in the list, so no wake-up is lost; the BLPOP timeout keeps the stock
polling as a fallback. Delay queues keep stock polling: their messages become due by time.

`_WakeConsumer`, `RunQueue` and `Backlog` follow Dramatiq 2.2.1's private `_RedisConsumer` and its Lua
script (brokers/redis/dispatch.lua); tests/unit/test_dramatiq_pin.py fails when the installed Dramatiq
is another, so that an upgrade starts by comparing them.
"""

import time
from typing import Any
from uuid import uuid4

import dramatiq
import redis
import redis.asyncio as aredis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name, q_name

from common.settings import Settings

CHAT_QUEUE = "chat"
RUN_CHAT = "chat.run"
# Reminders have a queue of their own, so that a delivery never waits behind chat runs.
REMINDER_QUEUE = "reminders"
DELIVER_REMINDER = "reminder.deliver"
WAKE_TOKENS_KEPT = 64
# How long a consumer blocks or sleeps on an empty queue, whatever the worker's `--worker-timeout`: it is
# also how often a consumer heartbeats and how late a delayed message (a run put back to keep a
# conversation in order) can be picked up. `taskchat worker` raises the worker timeout so that hundreds
# of idle worker threads wake up less often; the consumers keep this.
CONSUMER_TIMEOUT_MS = 1000


class _WakeConsumer(_RedisConsumer):
    def __next__(self) -> Any:
        if self.message_cache or self.outstanding_message_count >= self.prefetch:
            return super().__next__()
        try:
            self.message_cache = self.broker.do_fetch(
                self.queue_name, self.prefetch - self.outstanding_message_count
            )
            if not self.message_cache:
                self.broker.client.blpop([self.broker.wake_key(self.queue_name)], timeout=self.timeout / 1000)
                return None
        except redis.ConnectionError as exc:
            raise dramatiq.ConnectionClosed(exc) from None
        return super().__next__()


def wake_key(namespace: str, queue_name: str) -> str:
    return f"{namespace}:{q_name(queue_name)}.wake"


class WakeRedisBroker(RedisBroker):
    def wake_key(self, queue_name: str) -> str:
        return wake_key(self.namespace, queue_name)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        timeout = min(timeout, CONSUMER_TIMEOUT_MS)
        if queue_name == dq_name(queue_name):
            return super().consume(queue_name, prefetch, timeout)
        return _WakeConsumer(self, queue_name, prefetch, timeout)

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        sent = super().enqueue(message, delay=delay)
        if delay is None:
            key = self.wake_key(message.queue_name)
            self.client.pipeline(transaction=False).lpush(key, 1).ltrim(
                key, 0, WAKE_TOKENS_KEPT - 1
            ).execute()
        return sent


def broker_namespace(settings: Settings) -> str:
    return f"{settings.redis_prefix}:dramatiq"


def make_broker(settings: Settings, *, max_connections: int = 64) -> WakeRedisBroker:
    # redis-py 8 raises at once when its pool (100 by default) is exhausted; size it to our threads
    # and wait for a free connection instead of failing.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=max_connections,
        timeout=5,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=30,
    )
    return WakeRedisBroker(
        client=redis.Redis(connection_pool=pool),
        namespace=broker_namespace(settings),
        # A killed worker's unacked runs go back on the queue after this long without a heartbeat. Live
        # workers beat at least every second (their delay-queue poll). Dramatiq's defaults (60 s, and a
        # 0.1% chance per command of looking for dead workers) would leave them waiting for minutes.
        heartbeat_timeout=10_000,
        maintenance_chance=200_000,
    )


# KEYS: the queue's list, its messages hash, its wake list. ARGV: wake tokens kept (0: a delay queue,
# which is polled, not woken), then message id and message, for each message. What Dramatiq's `enqueue`
# writes (brokers/redis/dispatch.lua), plus the wake token, in one call.
_ENQUEUE = """
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
if tonumber(ARGV[1]) > 0 then
  redis.call('LPUSH', KEYS[3], 1)
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[1]) - 1)
end
"""


class RunQueue:
    """Sends jobs from an event loop in one round trip, where the broker's `enqueue` would block a
    thread for two (its Lua call, then the wake token)."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.namespace = broker_namespace(settings)
        self._script = client.register_script(_ENQUEUE)

    async def send(self, message: dramatiq.Message) -> None:
        await self.send_many([message])

    async def send_later(self, message: dramatiq.Message, *, delay_ms: int) -> None:
        """As the broker's `enqueue(message, delay=delay_ms)`."""
        await self.send_many([message], eta_ms=[int(time.time() * 1000) + delay_ms])

    async def send_many(self, messages: list[dramatiq.Message], *, eta_ms: list[int] | None = None) -> None:
        """Messages of one queue; with `eta_ms` (Unix milliseconds, one per message) they are delayed
        messages: a worker holds each until its time, then runs it (Dramatiq's `enqueue(delay=…)`)."""
        if not messages:
            return
        queue_name = messages[0].queue_name
        args: list[object] = [0 if eta_ms is not None else WAKE_TOKENS_KEPT]
        for n, message in enumerate(messages):
            message_id = str(uuid4())  # per delivery, as the broker does: a message may be sent again
            if eta_ms is None:
                sent = message.copy(options={"redis_message_id": message_id})
            else:
                sent = message.copy(
                    queue_name=dq_name(queue_name), options={"redis_message_id": message_id, "eta": eta_ms[n]}
                )
            args += [message_id, sent.encode()]
        queue = f"{self.namespace}:{dq_name(queue_name) if eta_ms is not None else queue_name}"
        await self._script(keys=[queue, f"{queue}.msgs", wake_key(self.namespace, queue_name)], args=args)


# KEYS: the queue's list, the workers' heartbeats. ARGV: the namespace, the queue's name. Dramatiq's layout
# (brokers/redis/dispatch.lua): a worker holds the messages it has fetched in `__acks__.<worker>.<queue>`.
_BACKLOG = """
local waiting = redis.call('LLEN', KEYS[1])
for _, worker in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  waiting = waiting + redis.call('SCARD', ARGV[1] .. ':__acks__.' .. worker .. '.' .. ARGV[2])
end
return waiting
"""


class Backlog:
    """How many messages of a queue wait in Redis or are held by workers (fetched, not yet done)."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.namespace = broker_namespace(settings)
        self._script = client.register_script(_BACKLOG)

    async def count(self, queue_name: str) -> int:
        keys = [f"{self.namespace}:{queue_name}", f"{self.namespace}:__heartbeats__"]
        return int(await self._script(keys=keys, args=[self.namespace, queue_name]))


def run_chat_message(
    run_id: int, *, request_id: str | None = None, reply_to: str | None = None, stream: bool = False
) -> dramatiq.Message:
    """`reply_to` is the API process's event channel; `stream` asks for token deltas and tool events
    (someone is streaming); a run without it publishes only how it ended."""
    kwargs: dict[str, Any] = {"request_id": request_id} if request_id else {}
    if reply_to:
        kwargs["reply_to"] = reply_to
    if stream:
        kwargs["stream"] = True
    return dramatiq.Message(
        queue_name=CHAT_QUEUE, actor_name=RUN_CHAT, args=(run_id,), kwargs=kwargs, options={}
    )


def reminder_message(reminder_id: int) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=REMINDER_QUEUE, actor_name=DELIVER_REMINDER, args=(reminder_id,), kwargs={}, options={}
    )
