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

from sqlalchemy import ARRAY, Integer, Interval, bindparam, func, update
from sqlalchemy.exc import SQLAlchemyError

from common.db import Database
from common.models import Run, RunStatus

log = logging.getLogger("taskchat.lease")

LEASE = timedelta(seconds=15)
RENEW_EVERY_S = 5.0

_held = (
    func.unnest(bindparam("p_ids", type_=ARRAY(Integer)), bindparam("p_attempts", type_=ARRAY(Integer)))
    .table_valued("id", "attempt")
    .render_derived(name="held")
)
_RENEW = (
    update(Run)
    .where(Run.id == _held.c.id, Run.attempts == _held.c.attempt, Run.status == RunStatus.running)
    .values(lease_expires_at=func.now() + bindparam("lease", type_=Interval()))
)
_RELEASE = (
    update(Run)
    .where(
        Run.id == bindparam("p_id"), Run.attempts == bindparam("p_attempt"), Run.status == RunStatus.running
    )
    .values(lease_expires_at=None)
)


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
                with contextlib.suppress(SQLAlchemyError):
                    await self.db.execute(_RELEASE, {"p_id": run_id, "p_attempt": attempt})

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            if not self.held:
                continue
            ids, attempts = list(self.held), list(self.held.values())
            try:
                await self.db.execute(_RENEW, {"lease": LEASE, "p_ids": ids, "p_attempts": attempts})
            except SQLAlchemyError as exc:  # a database blip must not kill the runs
                log.warning("lease.renew_failed runs=%s error=%r", len(ids), exc)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
