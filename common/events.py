"""The transient run-event channel.

The worker appends each event of a run to a Redis stream and publishes it on the run's pub/sub channel,
and on the reply channel of the API process that enqueued the run, in one atomic Lua call. Events are
numbered 1, 2, 3… per run (the stream id is `N-0`), so a client that lost its connection resumes with
`Last-Event-ID: N`. The stream expires a few minutes after the run ends: Redis holds nothing that
matters, the answer is always read back from Postgres.
"""

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

STREAM_MAXLEN = 5000
LIVE_TTL_S = 3600
FINISHED_TTL_S = 600
TERMINAL = ("done", "error")

# KEYS: stream, channel, reply channel (or the channel again). ARGV: run id, event, data (json), ttl,
# maxlen. Returns the event's number.
_PUBLISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if #last > 0 then seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'event', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local message = cjson.encode({run = tonumber(ARGV[1]), id = seq, event = ARGV[2], data = ARGV[3]})
redis.call('PUBLISH', KEYS[2], message)
if KEYS[3] ~= KEYS[2] then redis.call('PUBLISH', KEYS[3], message) end
return seq
"""


@dataclass(frozen=True)
class RunEvent:
    id: int
    event: str
    data: dict[str, Any]
    run_id: int = 0


def stream_key(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}:events"


def channel(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}"


class RunEventPublisher:
    def __init__(self, client: aredis.Redis, prefix: str) -> None:
        self.prefix = prefix
        self._script = client.register_script(_PUBLISH)

    async def publish(
        self, run_id: int, event: str, data: dict[str, Any], *, reply_to: str | None = None
    ) -> int:
        ttl = FINISHED_TTL_S if event in TERMINAL else LIVE_TTL_S
        run_channel = channel(self.prefix, run_id)
        keys = [stream_key(self.prefix, run_id), run_channel, reply_to or run_channel]
        payload = json.dumps(data, separators=(",", ":"), default=str)
        return int(await self._script(keys=keys, args=[run_id, event, payload, ttl, STREAM_MAXLEN]))


async def read_after(client: aredis.Redis, prefix: str, run_id: int, after: int) -> list[RunEvent]:
    """The run's events numbered above `after` that Redis still has."""
    entries = await client.xrange(stream_key(prefix, run_id), min=f"({after}-0", max="+")
    return [
        RunEvent(int(_text(entry_id).split("-")[0]), _text(fields[b"event"]), json.loads(fields[b"data"]))
        for entry_id, fields in entries
    ]


def reply_channel(prefix: str, process: str) -> str:
    """An API process's own channel: the runs it enqueued publish there too."""
    return f"{prefix}:api:{process}"


def decode_pubsub(raw: bytes | str) -> RunEvent:
    message = json.loads(raw)
    return RunEvent(
        int(message["id"]), message["event"], json.loads(message["data"]), int(message.get("run", 0))
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
