"""The queue on real Redis: what the API's `RunQueue` sends is the message a worker's consumer receives,
and it wakes an idle consumer instead of leaving it to its poll; Dramatiq's own broker and consumer agree
with ours; a deferred run is put back through the runtime's awaited queue."""

import time
import uuid
from datetime import timedelta

import pytest
import redis
import redis.asyncio as aredis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name

from common.jobs import (
    CONSUMER_TIMEOUT_MS,
    Backlog,
    RunQueue,
    broker_namespace,
    make_broker,
    reminder_message,
    run_chat_message,
    wake_key,
)
from common.models import Run, RunStatus, utcnow

pytestmark = pytest.mark.integration


@pytest.fixture
def own_settings(settings):  # type: ignore[no-untyped-def]
    """A namespace of its own, so that the session's worker does not take these messages."""
    prefix = f"{settings.redis_prefix}-queue-{uuid.uuid4().hex[:6]}"
    return settings.model_copy(update={"redis_prefix": prefix})


async def test_a_run_sent_by_the_api_is_the_message_a_consumer_receives(own_settings) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(own_settings)
    client = aredis.Redis.from_url(own_settings.redis_url)
    try:
        await RunQueue(client, own_settings).send(run_chat_message(41, reply_to="api:1", stream=True))
        wake = wake_key(broker.namespace, "chat")
        assert await client.llen(wake) == 1

        consumer = broker.consume("chat", timeout=60_000)
        message = next(consumer)
        assert message is not None
        assert (message.actor_name, message.args) == ("chat.run", (41,))
        assert message.kwargs == {"reply_to": "api:1", "stream": True}
        consumer.ack(message)
        assert next(consumer) is None  # the queue is empty: the consumer waits on the wake list, where
        assert await client.llen(wake) == 0  # the send's token ends that wait at once, and is used up
        assert await client.hlen(f"{broker.namespace}:chat.msgs") == 0
        consumer.close()
    finally:
        for key in [k async for k in client.scan_iter(match=f"{own_settings.redis_prefix}*")]:
            await client.delete(key)
        await client.aclose()
        broker.close()


def test_consumers_poll_at_most_every_second_whatever_the_worker_timeout(own_settings) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(own_settings)
    try:
        for queue in ("chat", dq_name("chat")):
            assert broker.consume(queue, timeout=5000).timeout == CONSUMER_TIMEOUT_MS
    finally:
        broker.close()


def _stock_broker(settings):  # type: ignore[no-untyped-def]
    """Dramatiq's own Redis broker (and so its own consumer) on the namespace our producers write to."""
    return RedisBroker(client=redis.Redis.from_url(settings.redis_url), namespace=broker_namespace(settings))


async def _clean(client: aredis.Redis, prefix: str) -> None:
    for key in [k async for k in client.scan_iter(match=f"{prefix}*")]:
        await client.delete(key)
    await client.aclose()


class TestDramatiqAgrees:
    """Our copies of Dramatiq's internals (common/jobs.py; pinned in tests/unit/test_dramatiq_pin.py) against
    the installed Dramatiq's own broker and consumer."""

    async def test_a_run_sent_by_runqueue_is_received_by_dramatiqs_consumer(self, own_settings) -> None:  # type: ignore[no-untyped-def]
        stock = _stock_broker(own_settings)
        client = aredis.Redis.from_url(own_settings.redis_url)
        try:
            await RunQueue(client, own_settings).send(run_chat_message(7, request_id="r-7"))
            consumer = stock.consume("chat", timeout=1000)
            assert type(consumer) is _RedisConsumer
            message = next(consumer)
            assert (message.actor_name, message.args, message.kwargs) == (
                "chat.run",
                (7,),
                {"request_id": "r-7"},
            )
            consumer.ack(message)
            assert await client.hlen(f"{stock.namespace}:chat.msgs") == 0  # the ack found it where it is kept
        finally:
            stock.close()
            await _clean(client, own_settings.redis_prefix)

    async def test_a_delayed_message_is_received_by_dramatiqs_delay_queue_consumer(
        self, own_settings
    ) -> None:  # type: ignore[no-untyped-def]
        stock = _stock_broker(own_settings)
        client = aredis.Redis.from_url(own_settings.redis_url)
        try:
            before = int(time.time() * 1000)
            await RunQueue(client, own_settings).send_later(reminder_message(5), delay_ms=60_000)
            after = int(time.time() * 1000)
            message = next(stock.consume(dq_name("reminders"), timeout=1000))
            assert (message.queue_name, message.actor_name, message.args) == (
                "reminders.DQ",
                "reminder.deliver",
                (5,),
            )
            assert before + 60_000 <= message.options["eta"] <= after + 60_000
            assert await client.llen(wake_key(stock.namespace, "reminders")) == 0  # delayed: nothing to wake
        finally:
            stock.close()
            await _clean(client, own_settings.redis_prefix)

    async def test_what_dramatiq_enqueues_our_consumer_receives_and_backlog_counts(
        self, own_settings
    ) -> None:  # type: ignore[no-untyped-def]
        stock, ours = _stock_broker(own_settings), make_broker(own_settings)
        client = aredis.Redis.from_url(own_settings.redis_url)
        backlog = Backlog(client, own_settings)
        try:
            stock.enqueue(reminder_message(9))
            assert await backlog.count("reminders") == 1  # waiting in the queue
            consumer = ours.consume("reminders", timeout=1000)
            message = next(consumer)
            assert (message.actor_name, message.args) == ("reminder.deliver", (9,))
            assert await backlog.count("reminders") == 1  # held by this worker: in its acks set
            consumer.ack(message)
            assert await backlog.count("reminders") == 0
        finally:
            stock.close()
            ours.close()
            await _clean(client, own_settings.redis_prefix)


class TestDeferredRun:
    async def test_a_deferred_run_is_put_back_as_a_delayed_message_by_the_event_loop(
        self, own_settings, sessions, user_id, monkeypatch
    ) -> None:  # type: ignore[no-untyped-def]
        from tests.factories import new_run
        from worker import actors
        from worker.runtime import Runtime

        run = await new_run(sessions, user_id, "Add a task to water the plants")
        async with sessions() as s:  # another attempt holds the run: this delivery is deferred
            row = await s.get(Run, run.id)
            row.status, row.attempts = RunStatus.running, 1
            row.lease_expires_at = utcnow() + timedelta(seconds=30)
            await s.commit()
        rt = await Runtime.create(own_settings)

        async def runtime() -> Runtime:
            return rt

        monkeypatch.setattr(actors, "get_runtime", runtime)
        stock = _stock_broker(own_settings)
        try:
            before = int(time.time() * 1000)
            body = actors.run_chat.fn.__wrapped__  # the coroutine function, on this test's loop
            await body(run.id, request_id="r-1", reply_to="api:9", stream=True)
            after = int(time.time() * 1000)
            message = next(stock.consume(dq_name("chat"), timeout=1000))
            assert (message.actor_name, message.args) == ("chat.run", (run.id,))
            assert message.kwargs == {"request_id": "r-1", "reply_to": "api:9", "stream": True}
            assert before + 500 <= message.options["eta"] <= after + 500
        finally:
            stock.close()
            await _clean(rt.redis, own_settings.redis_prefix)
            await rt.close()
