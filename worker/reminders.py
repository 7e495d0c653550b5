"""Delivering a reminder, exactly once: at its time it becomes an assistant message in the user's most
recent conversation (a new one if the user has none) and an event of the user's feed.

One transaction of two statements: the first locks the reminder while still `pending` (a second delivery
of it waits here, then finds it delivered and does nothing) and takes the user's next event number; the
second claims the reminder (pending -> delivered, with its message's id), writes the message and the
event. A worker
killed anywhere before the commit leaves the reminder pending for the next delivery; the claim's
condition and the unique `reminder.message_id` make a second message impossible, whatever Dramatiq
delivers twice. The feed's nudge goes after the commit.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Interval,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from common import taskfields, userevents
from common.db import Database
from common.models import Conversation, Event, Message, Reminder, ReminderStatus, Role, Task, UserState
from common.userevents import AfterCommit
from worker import metrics
from worker.humanize import describe_due

log = logging.getLogger("taskchat.reminders")

# A message that arrives before its reminder's time (clocks disagree) waits for it instead.
EARLY_TOLERANCE = timedelta(seconds=0.5)

_zone = select(UserState.timezone).where(UserState.user_id == Reminder.user_id).scalar_subquery()
# The reminder, locked while pending, and (if it is due) the user's next event number, which locks the
# user's row: in that order, by the data one step needs from the other.
_due = (
    select(
        Reminder.id,
        Reminder.user_id,
        Reminder.task_id,
        Reminder.remind_at,
        Task.title,
        Task.due_at,
        Task.all_day,
        func.coalesce(_zone, "UTC").label("timezone"),
        func.now().label("now"),
    )
    .join_from(Reminder, Task, Task.id == Reminder.task_id)
    .where(Reminder.id == bindparam("reminder_id"), Reminder.status == ReminderStatus.pending)
    .with_for_update(of=Reminder)  # type: ignore[arg-type]
    .cte("due")
)
_numbered = (
    pg_insert(UserState)
    .from_select(
        ["user_id", "event_seq", "updated_at"],
        select(_due.c.user_id, literal(1), func.now()).where(
            _due.c.remind_at <= _due.c.now + bindparam("tolerance", type_=Interval())
        ),
    )
    .on_conflict_do_update(index_elements=[UserState.user_id], set_={"event_seq": UserState.event_seq + 1})
    .returning(UserState.event_seq)
    .cte("numbered")
)
_DUE = select(_due, select(_numbered.c.event_seq).scalar_subquery().label("seq"))

# Parameters of INSERT and UPDATE statements are named p_*. Everything hangs on the claim: no claim, no
# conversation touched, no message, no event.
_user = bindparam("p_user_id", type_=Reminder.user_id.type)
_message_id = select(func.nextval(func.pg_get_serial_sequence(Message.__tablename__, "id")).label("id")).cte(
    "message_id"
)
_claimed = (
    update(Reminder)
    .where(Reminder.id == bindparam("p_reminder_id"), Reminder.status == ReminderStatus.pending)
    .values(
        status=ReminderStatus.delivered,
        delivered_at=func.now(),
        message_id=select(_message_id.c.id).scalar_subquery(),
    )
    .returning(Reminder.id)
    .cte("claimed")
)
_was_claimed = exists(select(_claimed.c.id))
_latest = (
    select(Conversation.id)
    .where(Conversation.user_id == _user)
    .order_by(Conversation.updated_at.desc(), Conversation.id.desc())  # type: ignore[attr-defined]
    .limit(1)
    .cte("latest")
)
_bumped = (
    update(Conversation)
    .where(Conversation.id == select(_latest.c.id).scalar_subquery(), _was_claimed)
    .values(updated_at=func.now())
    .returning(Conversation.id)
    .cte("bumped")
)
_created = (
    insert(Conversation)
    .from_select(
        ["user_id", "created_at", "updated_at"],
        select(_user, func.now(), func.now()).where(~exists(select(_latest.c.id)), _was_claimed),
    )
    .returning(Conversation.id)
    .cte("created")
)
_target = union_all(select(_bumped.c.id), select(_created.c.id)).cte("target")
_message = (
    insert(Message)
    .from_select(
        ["id", "user_id", "conversation_id", "role", "content", "created_at"],
        select(
            _message_id.c.id,
            _user,
            _target.c.id,
            literal(Role.assistant.value),
            bindparam("p_content", type_=Message.content.type),
            func.now(),
        ).select_from(_message_id.join(_target, true())),
    )
    .returning(Message.id, Message.conversation_id)
    .cte("message")
)
_event_data = bindparam("p_data", type_=JSONB).op("||")(
    func.jsonb_build_object("conversation_id", _message.c.conversation_id, "message_id", _message.c.id)
)
_DELIVER = (
    insert(Event)
    .from_select(
        ["user_id", "seq", "kind", "data", "created_at"],
        select(
            _user, bindparam("p_seq", type_=Integer), literal("reminder"), _event_data, func.now()
        ).select_from(_message),
    )
    .returning(Event.data)
    .add_cte(_bumped, _created)
)


@dataclass
class Outcome:
    delivered: dict[str, Any] | None = None  # the event's data
    user_id: str | None = None
    seq: int = 0
    early_by: timedelta | None = None  # not yet due: deliver it again after this long


def text(title: str, due_at: datetime | None, all_day: bool, now: datetime) -> str:
    """'Reminder: Call mom — due 5:00 PM', '… — due tomorrow at 9:00 AM', '… — overdue since Monday'."""
    due = describe_due(due_at, all_day, now)
    if due.startswith("due today at "):
        due = "due " + due.removeprefix("due today at ")
    return f"Reminder: {title} — {due}" if due else f"Reminder: {title}"


def _deliver(conn: Connection, reminder_id: int) -> Outcome:
    row = conn.execute(_DUE, {"reminder_id": reminder_id, "tolerance": EARLY_TOLERANCE}).first()
    if row is None:
        return Outcome()  # delivered already, cancelled, or its task deleted
    if row.seq is None:
        return Outcome(early_by=row.remind_at - row.now)
    tz = taskfields.zone(row.timezone)
    now = row.now.astimezone(tz)
    said = text(row.title, row.due_at, row.all_day, now)
    data = {
        "reminder_id": row.id,
        "task_id": row.task_id,
        "title": row.title,
        "text": said,
        "remind_at": row.remind_at.astimezone(tz).isoformat(),
        "due_at": row.due_at.astimezone(tz).isoformat() if row.due_at else None,
        "all_day": row.all_day,
    }
    params = {
        "p_reminder_id": row.id,
        "p_user_id": row.user_id,
        "p_content": said,
        "p_seq": row.seq,
        "p_data": data,
    }
    delivered = conn.execute(_DELIVER, params).scalar_one()
    metrics.REMINDERS_LATE.observe(max((row.now - row.remind_at).total_seconds(), 0.0))
    return Outcome(delivered=delivered, user_id=row.user_id, seq=row.seq)


async def deliver(db: Database, after_commit: AfterCommit, reminder_id: int) -> Outcome:
    outcome = await db.run_in_transaction(lambda conn: _deliver(conn, reminder_id))
    if outcome.delivered is not None and outcome.user_id is not None:
        log.info(
            "reminder.delivered reminder_id=%s message_id=%s",
            reminder_id,
            outcome.delivered.get("message_id"),
        )
        await after_commit.send(userevents.Pending(last_seq={outcome.user_id: outcome.seq}))
    return outcome
