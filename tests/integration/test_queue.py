"""The queue on real Redis: what the API's `RunQueue` sends is the message a worker's consumer receives,
and it wakes an idle consumer instead of leaving it to its poll."""

import uuid

import pytest
import redis.asyncio as aredis
from dramatiq.common import dq_name

from common.jobs import CONSUMER_TIMEOUT_MS, RunQueue, make_broker, run_chat_message, wake_key

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
