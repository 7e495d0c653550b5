"""A short Redis lease on a run while an attempt works on it.

Dramatiq delivers at least once, and the sweeper may enqueue a run twice: a second delivery that finds
the lease held puts itself back with a delay instead of running the agent a second time alongside the
first. A killed worker stops renewing, so its lease lapses within seconds and the redelivered message
(or the sweeper) takes over. (If Redis itself is lost, the tool ledger and the guarded final update still
keep effects and answers single.)
"""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import redis.asyncio as aredis

LEASE_MS = 15_000
RENEW_EVERY_S = 5.0

_OWNED = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call({}) end return 0"
_RELEASE = _OWNED.format("'DEL', KEYS[1]")
# Renewing also re-creates a lease that Redis lost in a restart, so the sweeper never mistakes a live run
# for an abandoned one; a lease someone else holds is left alone.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end
return 0
"""


def lease_key(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}:lease"


class LeaseHeld(Exception):
    pass


@contextlib.asynccontextmanager
async def run_lease(client: aredis.Redis, prefix: str, run_id: int) -> AsyncIterator[None]:
    key, token = lease_key(prefix, run_id), secrets.token_hex(8)
    if not await client.set(key, token, nx=True, px=LEASE_MS):
        raise LeaseHeld(run_id)

    async def renew() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            with contextlib.suppress(Exception):  # a Redis blip must not kill the run
                await client.eval(_RENEW, 1, key, token, LEASE_MS)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(Exception):
            await client.eval(_RELEASE, 1, key, token)
