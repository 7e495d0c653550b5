import dramatiq

import worker.broker  # noqa: F401  (sets the broker before the actors are declared)
from common.jobs import CHAT_QUEUE, DELIVER_REMINDER, REMINDER_QUEUE, RUN_CHAT, run_chat_message
from worker import reminders
from worker.run import RunDeferred, run_chat_job
from worker.runtime import get_runtime


@dramatiq.actor(
    actor_name=RUN_CHAT,
    queue_name=CHAT_QUEUE,
    max_retries=20,
    min_backoff=250,
    max_backoff=10_000,
    time_limit=300_000,
)
async def run_chat(
    run_id: int, request_id: str | None = None, reply_to: str | None = None, stream: bool = False
) -> None:
    """Runs the agent for one persisted run. Retried with backoff (up to about three minutes) only on
    infrastructure errors such as a database outage; model failures end the run as failed with a
    readable reason. A run whose conversation still has an earlier unfinished run, or that another
    attempt is working on, is put back with a short delay: runs of one conversation execute in order."""
    rt = await get_runtime()
    try:
        await run_chat_job(rt, run_id, request_id=request_id, reply_to=reply_to, stream=stream)
    except RunDeferred:
        again = run_chat_message(run_id, request_id=request_id, reply_to=reply_to, stream=stream)
        await rt.queue.send_later(again, delay_ms=500)  # awaited: the broker's `enqueue` blocks the loop


@dramatiq.actor(
    actor_name=DELIVER_REMINDER,
    queue_name=REMINDER_QUEUE,
    max_retries=30,
    min_backoff=500,
    max_backoff=30_000,
    time_limit=60_000,
)
async def deliver_reminder(reminder_id: int) -> None:
    """Delivers one reminder at its time (worker/reminders.py). A second delivery of it, or a reminder
    cancelled since it was scheduled, does nothing. Retried with backoff (for about ten minutes) on
    infrastructure errors such as a database outage; after that the sweeper delivers it. A message that
    arrives early is sent again for the reminder's time."""
    rt = await get_runtime()
    async with rt.deliveries:
        outcome = await reminders.deliver(rt.db, rt.after_commit, reminder_id)
    if outcome.early_by is not None:
        await rt.after_commit.queue_later(reminder_id, outcome.early_by)
