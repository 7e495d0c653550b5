"""Re-enqueues runs whose queue message was lost, so that every accepted message gets an answer.

A run stays `queued` in Postgres when the broker was down at submit time (the API answered 503) or when
Redis lost its queue in a restart; a run stays `running` when its worker and its message were both lost.
Every worker process sweeps, but a short Redis lock lets only one of them do it per interval. A run
enqueued twice is harmless: the run lease and the finished-run check make the extra delivery a no-op.
"""

import asyncio
import logging
from datetime import timedelta

import dramatiq
from sqlmodel import col, or_, select

from common.jobs import run_chat_message
from common.models import Run, RunStatus, utcnow
from worker.lease import lease_key
from worker.runtime import Runtime

log = logging.getLogger("taskchat.sweeper")

# A running run is abandoned when its lease is gone (its worker died, or Redis lost its queue message and
# the worker then failed): a live attempt renews the lease every few seconds, even after a Redis restart.
RUNNING_GRACE = timedelta(seconds=30)
BATCH = 200


async def sweep_once(rt: Runtime, broker: dramatiq.Broker) -> int:
    interval_ms = int(rt.settings.sweep_interval_s * 900)
    if not await rt.redis.set(f"{rt.settings.redis_prefix}:sweeper", "1", nx=True, px=interval_ms):
        return 0  # another worker process is sweeping
    now, queued_grace = utcnow(), timedelta(seconds=rt.settings.sweep_queued_after_s)
    async with rt.sessions() as session:
        stuck = (
            await session.exec(
                select(Run.id, Run.status)
                .where(
                    or_(
                        (col(Run.status) == RunStatus.queued) & (col(Run.created_at) < now - queued_grace),
                        (col(Run.status) == RunStatus.running) & (col(Run.started_at) < now - RUNNING_GRACE),
                    )
                )
                .order_by(col(Run.id))
                .limit(BATCH)
            )
        ).all()
    running = [run_id for run_id, status in stuck if status == RunStatus.running]
    leased = set()
    if running:
        held = (
            await rt.redis.exists(*[lease_key(rt.settings.redis_prefix, r) for r in running])
            if running
            else 0
        )
        if held:  # look at each only when some are held (usually none or all)
            for run_id in running:
                if await rt.redis.exists(lease_key(rt.settings.redis_prefix, run_id)):
                    leased.add(run_id)
    requeue = [run_id for run_id, _ in stuck if run_id not in leased]
    for run_id in requeue:
        await asyncio.to_thread(broker.enqueue, run_chat_message(run_id))
    if requeue:
        log.info("sweeper.requeued count=%s first=%s", len(requeue), requeue[0])
    return len(requeue)


async def sweep_forever(rt: Runtime, broker: dramatiq.Broker) -> None:
    while True:
        try:
            await sweep_once(rt, broker)
        except Exception as exc:  # Postgres or Redis down: try again next time
            log.warning("sweeper.failed error=%r", exc)
        await asyncio.sleep(rt.settings.sweep_interval_s)
