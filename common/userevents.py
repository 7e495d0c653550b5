"""Each user's feed of changes (the `Event` table), and what a transaction tells Redis once it has
committed.

Writers (the task tools, reminder delivery) note their events and new reminders on their transaction's
connection. Just before the commit the events take the user's next numbers from `UserState.event_seq`,
whose row stays locked until the commit: a user's events are numbered in the order they commit, so a
reader that has seen number N has seen everything below it, and one that reads "after N" misses nothing.
After the commit, `AfterCommit` sends the new reminders' delayed queue messages and a nudge on each
user's channel. A nudge only says "read the feed": PostgreSQL is the source of truth, and a lost nudge
(Redis down) costs a reader time, never an event.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisError
from sqlalchemy import CTE, Interval, String, bindparam, delete, func, insert, literal, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningInsert

from common.jobs import REMINDER_QUEUE, Backlog, RunQueue, reminder_message
from common.models import Event, UserState
from common.settings import Settings

log = logging.getLogger("taskchat.events")

# A reminder gets its delayed queue message when it is written if it is due within this long; one further
# ahead gets it from the sweeper once it comes this close. Workers hold delayed messages in memory until
# they are due, so the horizon bounds what they hold: reminders of the next hour, not of the next year.
HORIZON = timedelta(hours=1)
_KEY = "taskchat.pending"


@dataclass
class Pending:
    """What a transaction wrote that Redis must hear about once it commits."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # user, kind, data
    reminders: list[tuple[int, datetime]] = field(default_factory=list)  # id, when
    last_seq: dict[str, int] = field(default_factory=dict)  # per user, once the events are written


def begin(conn: Connection) -> None:
    """Forgets what an earlier transaction on this connection noted and did not finish (it failed)."""
    conn.info.pop(_KEY, None)


def note_event(conn: Connection, user_id: str, kind: str, data: dict[str, Any]) -> None:
    """`data` as JSON will have it (`model_dump(mode="json")`)."""
    conn.info.setdefault(_KEY, Pending()).events.append((user_id, kind, data))


def note_reminder(conn: Connection, reminder_id: int, at: datetime) -> None:
    conn.info.setdefault(_KEY, Pending()).reminders.append((reminder_id, at))


# Parameters of INSERT and UPDATE statements are named p_* (SQLAlchemy reserves the column names).
_TAKE_NUMBERS = (
    pg_insert(UserState)
    .values(user_id=bindparam("p_user_id"), event_seq=bindparam("p_count"), updated_at=func.now())
    .on_conflict_do_update(
        index_elements=[UserState.user_id],
        # Not `updated_at`: it dates the in-flight count, which the sweeper recounts when it is stale.
        set_={"event_seq": UserState.event_seq + bindparam("p_count")},
    )
    .returning(UserState.event_seq)
)
_INSERT = insert(Event).values(created_at=func.now())


def _event_row(numbered: CTE) -> ReturningInsert[Any]:
    """The event row under the number `numbered` (a CTE giving `user_id` and `event_seq`) took."""
    return (
        insert(Event)
        .from_select(
            ["user_id", "seq", "kind", "data", "created_at"],
            select(
                numbered.c.user_id,
                numbered.c.event_seq,
                bindparam("p_kind", type_=String),
                bindparam("p_data", type_=JSONB),
                func.now(),
            ),
        )
        .returning(Event.seq)
    )


# The usual case, one event of one user (a tool call), in one round trip: the number and the row.
_INSERT_ONE = _event_row(_TAKE_NUMBERS.returning(UserState.user_id).cte("numbered"))


def event_after(first: CTE) -> ReturningInsert[Any]:
    """One event of the user in `first`'s `user_id` column, numbered and written in the statement that
    runs `first` (a data-modifying CTE, as the tool ledger's row): parameters `p_kind` and `p_data`. The
    user's row is locked only once `first` has given its row, so the statement takes `first`'s locks
    before the user's, the order every transaction that takes both keeps. No row from `first`: no event."""
    numbered = (
        pg_insert(UserState)
        .from_select(
            # All columns without a server default: SQLAlchemy's Python-side defaults do not reach a CTE.
            ["user_id", "runs_in_flight", "event_seq", "updated_at"],
            select(first.c.user_id, literal(0), literal(1), func.now()),
        )
        .on_conflict_do_update(
            index_elements=[UserState.user_id], set_={"event_seq": UserState.event_seq + 1}
        )
        .returning(UserState.user_id, UserState.event_seq)
        .cte("numbered")
    )
    return _event_row(numbered)


def lone_event(conn: Connection, user_id: str) -> tuple[str, dict[str, Any]] | None:
    """Takes the event this transaction noted, if it noted exactly one and of `user_id`, for a statement
    that writes it with `event_after`; `written` then gives its number. `finish` writes the others."""
    pending: Pending | None = conn.info.get(_KEY)
    if pending is None or len(pending.events) != 1 or pending.events[0][0] != user_id:
        return None
    _, kind, data = pending.events.pop()
    return kind, data


def written(conn: Connection, user_id: str, seq: int) -> None:
    conn.info[_KEY].last_seq[user_id] = seq


def finish(conn: Connection) -> Pending | None:
    """Writes the events noted on this connection, numbered; what to send once the transaction commits."""
    pending: Pending | None = conn.info.pop(_KEY, None)
    if pending is None:
        return None
    by_user: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for user_id, kind, data in pending.events:
        by_user.setdefault(user_id, []).append((kind, data))
    for user_id, items in by_user.items():
        if len(items) == 1:
            (kind, data), params = items[0], {"p_user_id": user_id, "p_count": 1}
            seq = conn.execute(_INSERT_ONE, params | {"p_kind": kind, "p_data": data}).scalar_one()
            pending.last_seq[user_id] = int(seq)
            continue
        last = take_numbers(conn, user_id, len(items))
        first = last - len(items) + 1
        rows = [
            {"user_id": user_id, "seq": first + n, "kind": kind, "data": data}
            for n, (kind, data) in enumerate(items)
        ]
        conn.execute(_INSERT, rows)
        pending.last_seq[user_id] = last
    return pending


def channel(prefix: str, user_id: str) -> str:
    return f"{prefix}:user:{user_id}:events"


class AfterCommit:
    """Tells Redis what committed: a delayed message per new reminder, a nudge per user whose feed grew.
    Never raises: what is lost here, the sweeper (reminders) and the readers' polling (events) make up."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.redis, self.prefix = client, settings.redis_prefix
        self.queue = RunQueue(client, settings)
        self.backlog = Backlog(client, settings)

    async def send(self, pending: Pending | None) -> None:
        if pending is None:
            return
        try:
            if pending.reminders:
                await self.schedule(pending.reminders)
            if len(pending.last_seq) == 1:  # the usual case: a pipeline costs more than it saves
                ((user_id, seq),) = pending.last_seq.items()
                await self.redis.publish(channel(self.prefix, user_id), seq)
            elif pending.last_seq:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for user_id, seq in pending.last_seq.items():
                        pipe.publish(channel(self.prefix, user_id), seq)
                    await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "events.after_commit_failed reminders=%s users=%s error=%r",
                len(pending.reminders),
                len(pending.last_seq),
                exc,
            )

    async def schedule(self, reminders: list[tuple[int, datetime]]) -> None:
        """Delayed delivery messages, each due at its reminder's time."""
        messages = [reminder_message(reminder_id) for reminder_id, _ in reminders]
        await self.queue.send_many(messages, eta_ms=[int(at.timestamp() * 1000) for _, at in reminders])

    async def deliveries_waiting(self) -> int:
        """Delivery messages due now that wait in the queue or are being worked on."""
        return await self.backlog.count(REMINDER_QUEUE)

    async def deliver_now(self, reminder_ids: list[int]) -> None:
        await self.queue.send_many([reminder_message(reminder_id) for reminder_id in reminder_ids])

    async def queue_later(self, reminder_id: int, delay: timedelta) -> None:
        await self.queue.send_later(reminder_message(reminder_id), delay_ms=int(delay.total_seconds() * 1000))


# Readers of the feed (the API's event stream).
READ_AFTER = (
    select(Event.seq, Event.kind, Event.data)
    .where(Event.user_id == bindparam("user_id"), Event.seq > bindparam("after"))
    .order_by(Event.seq)
    .limit(bindparam("limit"))
)
# The user's last number, and the first one still kept (none: nothing kept).
POSITION = select(
    func.coalesce(
        select(UserState.event_seq).where(UserState.user_id == bindparam("user_id")).scalar_subquery(), 0
    ).label("last"),
    select(func.min(Event.seq)).where(Event.user_id == bindparam("user_id")).scalar_subquery().label("first"),
)
# Old events go in batches (the sweeper, every interval), so that no delete holds many locks for long.
PRUNE_BATCH = 5000
_old = (
    select(Event.user_id, Event.seq)
    .where(Event.created_at < func.now() - bindparam("keep", type_=Interval()))
    .limit(PRUNE_BATCH)
)
PRUNE = delete(Event).where(tuple_(Event.user_id, Event.seq).in_(_old))


def take_numbers(conn: Connection, user_id: str, count: int = 1) -> int:
    """The user's next `count` event numbers (the last of them); the user's row stays locked until the
    commit. Take them before locking a conversation, as every transaction that locks both does."""
    return int(conn.execute(_TAKE_NUMBERS, {"p_user_id": user_id, "p_count": count}).scalar_one())
