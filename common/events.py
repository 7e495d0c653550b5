"""The transient run-event channel. The worker appends each event of a run to a Redis stream (kept
briefly for replay) and publishes it on the run's pub/sub channel in one round trip. Redis holds no
state that matters: the answer is always read back from Postgres."""

import json
from typing import Any

import redis.asyncio as aredis

STREAM_MAXLEN = 5000
LIVE_TTL_S = 3600
FINISHED_TTL_S = 300

# KEYS: stream, channel. ARGV: event, data (json), ttl. Returns the stream id.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[1], 'data', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], cjson.encode({id = id, event = ARGV[1], data = ARGV[2]}))
return id
"""

TERMINAL = ("done", "error")


def stream_key(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}:events"


def channel(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}"


class RunEventPublisher:
    def __init__(self, client: aredis.Redis, prefix: str) -> None:
        self.prefix = prefix
        self._script = client.register_script(_PUBLISH)

    async def publish(self, run_id: int, event: str, data: dict[str, Any]) -> str:
        ttl = FINISHED_TTL_S if event in TERMINAL else LIVE_TTL_S
        keys = [stream_key(self.prefix, run_id), channel(self.prefix, run_id)]
        payload = json.dumps(data, separators=(",", ":"), default=str)
        stream_id = await self._script(keys=keys, args=[event, payload, ttl, STREAM_MAXLEN])
        return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)


def decode_pubsub(raw: bytes | str) -> dict[str, Any]:
    message = json.loads(raw)
    return {"id": message["id"], "event": message["event"], "data": json.loads(message["data"])}
