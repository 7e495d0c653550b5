"""Re-enqueues runs whose queue message was lost, so that every accepted message gets an answer; sends
reminders their delivery messages; prunes the users' event feeds.

A run stays `queued` in Postgres when the broker was down at submit time (the API answered 503) or when
Redis lost its queue in a restart; a run stays `running` when its worker and its message were both lost.
A reminder stays `pending` past its time when its delayed message was lost the same ways. Every worker
process sweeps, but a short Redis lock lets only one of them do it per interval. A run or a reminder
enqueued twice is harmless: the run's lease and the finished-run check, and the reminder's claim, make
the extra delivery a no-op.
"""

import asyncio
import logging
from datetime import timedelta

import dramatiq
from sqlalchemy import Interval, and_, bindparam, func, or_, select, update
from sqlmodel import col

from common import userevents
from common.db import Database
from common.jobs import run_chat_message
from common.models import UNFINISHED, Reminder, ReminderStatus, Run, RunStatus, UserState
from common.userevents import AfterCommit
from worker.runtime import Runtime

log = logging.getLogger("taskchat.sweeper")

# A running run is abandoned once its lease has lapsed (its worker died, or Redis lost its queue message
# and the attempt then failed): a live attempt renews its lease every few seconds.
RUNNING_GRACE = timedelta(seconds=30)  # for a running run without a lease (written before leases)
BATCH = 200
_STUCK = (
    select(Run.id)
    .where(
        or_(
            and_(
                Run.status == RunStatus.queued,
                Run.created_at < func.now() - bindparam("queued_grace", type_=Interval()),
            ),
            and_(
                Run.status == RunStatus.running,
                func.coalesce(
                    Run.lease_expires_at < func.now(),
                    Run.started_at < func.now() - bindparam("running_grace", type_=Interval()),
                ),
            ),
        )
    )
    .order_by(Run.id)
    .limit(BATCH)
)


# A user's count of runs in flight is kept by the statements that create and finish runs; one that has
# not changed for this long is recounted, so that no drift can lock a user out for good.
RECOUNT_AFTER = timedelta(minutes=10)
_RECOUNT = (
    update(UserState)
    .where(
        UserState.runs_in_flight > 0,
        UserState.updated_at < func.now() - bindparam("recount_after", type_=Interval()),
    )
    .values(
        runs_in_flight=select(func.count())
        .where(Run.user_id == UserState.user_id, col(Run.status).in_(UNFINISHED))
        .scalar_subquery(),
        updated_at=func.now(),
    )
)


REMINDER_BATCH = 1000
# Reminders past their time by more than the grace, still pending: their message was lost.
_OVERDUE = (
    select(Reminder.id)
    .where(
        Reminder.status == ReminderStatus.pending,
        Reminder.remind_at < func.now() - bindparam("grace", type_=Interval()),
    )
    .order_by(Reminder.remind_at)
    .limit(REMINDER_BATCH)
)
# Reminders that were further ahead than the queue's horizon when written, and now come within it.
_coming = (
    select(Reminder.id)
    .where(
        Reminder.status == ReminderStatus.pending,
        Reminder.enqueued.is_(False),  # type: ignore[attr-defined]
        Reminder.remind_at <= func.now() + bindparam("horizon", type_=Interval()),
    )
    .order_by(Reminder.remind_at)
    .limit(REMINDER_BATCH)
)
_ENQUEUE_COMING = (
    update(Reminder)
    .where(col(Reminder.id).in_(_coming))
    .values(enqueued=True)
    .returning(Reminder.id, Reminder.remind_at)
)


async def sweep_reminders(db: Database, after_commit: AfterCommit, *, grace: timedelta) -> tuple[int, int]:
    """Messages for reminders that lost theirs (delivered at once) and for those coming within the
    horizon (delayed to their time); how many of each. While delivery messages still wait in the queue
    (a burst of reminders due at once), reminders past their time are most likely among them: they are
    looked at again once the queue has drained, rather than sent a second message each."""
    overdue = []
    if await after_commit.deliveries_waiting() == 0:
        overdue = [row["id"] for row in await db.all(_OVERDUE, {"grace": grace})]
    if overdue:
        await after_commit.deliver_now(overdue)
        log.info("sweeper.reminders_overdue count=%s first=%s", len(overdue), overdue[0])
    coming = [
        (row["id"], row["remind_at"])
        for row in await db.all(_ENQUEUE_COMING, {"horizon": userevents.HORIZON})
    ]
    if coming:
        await after_commit.schedule(coming)
    return len(overdue), len(coming)


async def prune_events(db: Database, *, keep: timedelta) -> int:
    return await db.execute(userevents.PRUNE, {"keep": keep})


async def sweep_once(rt: Runtime, broker: dramatiq.Broker) -> int:
    interval_ms = int(rt.settings.sweep_interval_s * 900)
    if not await rt.redis.set(f"{rt.settings.redis_prefix}:sweeper", "1", nx=True, px=interval_ms):
        return 0  # another worker process is sweeping
    params = {
        "queued_grace": timedelta(seconds=rt.settings.sweep_queued_after_s),
        "running_grace": RUNNING_GRACE,
    }
    stuck = [row["id"] for row in await rt.db.all(_STUCK, params)]
    await rt.db.execute(_RECOUNT, {"recount_after": RECOUNT_AFTER})
    for run_id in stuck:
        await asyncio.to_thread(broker.enqueue, run_chat_message(run_id))
    if stuck:
        log.info("sweeper.requeued count=%s first=%s", len(stuck), stuck[0])
    await sweep_reminders(rt.db, rt.after_commit, grace=timedelta(seconds=rt.settings.sweep_queued_after_s))
    await prune_events(rt.db, keep=timedelta(hours=rt.settings.events_keep_hours))
    return len(stuck)


async def sweep_forever(rt: Runtime, broker: dramatiq.Broker) -> None:
    while True:
        try:
            await sweep_once(rt, broker)
        except Exception as exc:  # Postgres or Redis down: try again next time
            log.warning("sweeper.failed error=%r", exc)
        await asyncio.sleep(rt.settings.sweep_interval_s)
