"""A run's lease lives in its row: `lease_expires_at`.

Dramatiq delivers at least once, and the sweeper may enqueue a run twice: the claim (worker/run.py)
takes a `running` run only once its lease has lapsed, so a second delivery puts itself back with a delay
instead of running the agent alongside the first. A live attempt keeps its lease in the future; a killed
worker stops renewing, so its lease lapses within seconds and the redelivered message (or the sweeper)
takes over. The attempt number identifies the holder: a later attempt's claim increments it.

One keeper per worker process renews every lease it holds in one statement every few seconds, so a
run costs no lease round trip of its own.
"""

import asyncio
import contextlib
import logging
from datetime import timedelta

import psycopg

from common.pg import Database

log = logging.getLogger("taskchat.lease")

LEASE = timedelta(seconds=15)
RENEW_EVERY_S = 5.0

_RENEW = """
    UPDATE run SET lease_expires_at = now() + %(lease)s
    FROM unnest(%(ids)s::integer[], %(attempts)s::integer[]) AS held(id, attempt)
    WHERE run.id = held.id AND run.attempts = held.attempt AND run.status = 'running'
"""
_RELEASE = """
    UPDATE run SET lease_expires_at = NULL
    WHERE id = %(id)s AND attempts = %(attempt)s AND status = 'running'
"""


class LeaseKeeper:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.held: dict[int, int] = {}  # run id -> attempt
        self._renewer: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def hold(self, run_id: int, attempt: int):  # type: ignore[no-untyped-def]
        """The claim took the lease; keep it while the attempt works, and give it back if the attempt
        fails without finishing the run (so that its retry need not wait for the lease to lapse)."""
        self.held[run_id] = attempt
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="lease-keeper")
        finished = False
        try:
            yield
            finished = True
        finally:
            self.held.pop(run_id, None)
            if not finished:
                with contextlib.suppress(psycopg.Error):
                    await self.db.execute(_RELEASE, {"id": run_id, "attempt": attempt})

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            if not self.held:
                continue
            ids, attempts = list(self.held), list(self.held.values())
            try:
                await self.db.execute(_RENEW, {"lease": LEASE, "ids": ids, "attempts": attempts})
            except psycopg.Error as exc:  # a database blip must not kill the runs
                log.warning("lease.renew_failed runs=%s error=%r", len(ids), exc)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
