"""SQLModel tables (DESIGN.md §3). Every read of user data filters by `user_id`."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Column, Computed, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
USER_ID_MAX = 255
TAG_MAX = 32
TAGS_MAX = 10
REPEAT_MAX = 500
TIMEZONE_MAX = 64
# Language of the full-text index over titles and descriptions (stems "dentists" to "dentist").
SEARCH_CONFIG = "english"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    user = "user"
    assistant = "assistant"


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class ReminderStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    cancelled = "cancelled"


FINISHED = (RunStatus.succeeded, RunStatus.failed)
UNFINISHED = (RunStatus.queued, RunStatus.running)


class Task(SQLModel, table=True):
    __table_args__ = (
        Index("ix_task_user_id_id", "user_id", "id"),
        Index("ix_task_user_id_due_at", "user_id", "due_at"),
        # "This user's tasks tagged X": the user's rows by ix_task_user_id_id, the tag by this GIN index
        # (a two-column GIN index would need the btree_gin extension, which embedded servers lack).
        Index("ix_task_tags", "tags", postgresql_using="gin"),
        Index("ix_task_search", "search", postgresql_using="gin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=USER_ID_MAX)
    title: str = Field(max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    completed: bool = False
    completed_at: datetime | None = None
    # An all-day task (a date, no time) is due at the end of that day in the user's zone.
    due_at: datetime | None = None
    all_day: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    priority: Priority = Field(
        default=Priority.normal, sa_column=Column(String(8), nullable=False, server_default=Priority.normal)
    )
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(TAG_MAX)), nullable=False, server_default="{}")
    )
    # An RFC 5545 RRULE (without "RRULE:"), evaluated in the user's zone from the due date.
    repeat: str | None = Field(default=None, max_length=REPEAT_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Maintained by PostgreSQL for `list_tasks(query=...)`; never written by us.
    search: Any = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                f"to_tsvector('{SEARCH_CONFIG}'::regconfig, title || ' ' || coalesce(description, ''))",
                persisted=True,
            ),
        ),
        exclude=True,
    )


class Reminder(SQLModel, table=True):
    """A reminder of a task at a time: pending until a worker delivers it (once: the delivery claims it
    by its status) or the task is completed, changed or deleted."""

    __table_args__ = (
        Index(
            "ux_reminder_task_id_pending", "task_id", unique=True, postgresql_where=text("status = 'pending'")
        ),
        Index("ix_reminder_due", "remind_at", postgresql_where=text("status = 'pending'")),
        Index("ix_reminder_user_id_remind_at", "user_id", "remind_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=USER_ID_MAX)
    task_id: int = Field(sa_column=Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False))
    remind_at: datetime
    # Set for "an hour before it's due": the reminder moves with the due date.
    before_due_minutes: int | None = None
    status: ReminderStatus = Field(default=ReminderStatus.pending, sa_type=String(16))
    # Whether its delivery message was sent to the queue (with a delay: a Dramatiq delayed message). A
    # reminder further ahead than the queue's horizon gets its message from the sweeper later.
    enqueued: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    # The assistant message that delivered it; unique, so no reminder is ever told twice.
    message_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("message.id", ondelete="SET NULL"), unique=True),
    )


class UserState(SQLModel, table=True):
    """What taskchat keeps per user (users themselves live in Better Auth)."""

    user_id: str = Field(primary_key=True, max_length=USER_ID_MAX)
    # Runs queued or running, kept by the statements that create and finish them: a conditional
    # increment caps them per user without a race (api/services/chat.py).
    runs_in_flight: int = 0
    # The user's IANA time zone: dates are read and shown in it.
    timezone: str = Field(
        default="UTC", sa_column=Column(String(TIMEZONE_MAX), nullable=False, server_default="UTC")
    )
    # The number of the user's last `Event`: taking the next one locks this row until the commit, so
    # the user's events are numbered in the order they commit.
    event_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    updated_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """What changed for a user, for the clients that follow `GET /api/{user_id}/events`: task changes
    and delivered reminders, numbered 1, 2, 3… per user in commit order. Kept for a while
    (`EVENTS_KEEP_HOURS`), so that a client that reconnects catches up from here."""

    __table_args__ = (Index("ix_event_created_at", "created_at"),)

    user_id: str = Field(primary_key=True, max_length=USER_ID_MAX)
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=16)  # task | reminder
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    __table_args__ = (Index("ix_conversation_user_id_updated_at", "user_id", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=USER_ID_MAX)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    # The history window is an index range scan whatever the conversation's length.
    __table_args__ = (Index("ix_message_conversation_id_id", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=USER_ID_MAX)
    conversation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False)
    )
    role: Role = Field(sa_type=String(16))
    content: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    __table_args__ = (
        Index("ix_run_conversation_id_id", "conversation_id", "id"),
        Index("ix_run_user_id_status", "user_id", "status"),
        Index(
            "ux_run_user_id_idempotency_key",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index(
            "ix_run_unfinished",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=USER_ID_MAX)
    conversation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False)
    )
    user_message_id: int = Field(
        sa_column=Column(Integer, ForeignKey("message.id", ondelete="CASCADE"), nullable=False)
    )
    assistant_message_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("message.id", ondelete="SET NULL"))
    )
    status: RunStatus = Field(default=RunStatus.queued, sa_type=String(16))
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    idempotency_key: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # While an attempt works on the run it keeps this in the future (worker/lease.py).
    lease_expires_at: datetime | None = None


class ModelStep(SQLModel, table=True):
    """A model response of a run that asked for tool calls, recorded before they ran, so that a retried
    run replays it instead of asking the model again (worker/replay.py). Removed when the run finishes."""

    run_id: int = Field(sa_column=Column(Integer, ForeignKey("run.id", ondelete="CASCADE"), primary_key=True))
    step: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    # The response's output items (the SDK's `ModelResponse.output`) as JSON.
    output: list[Any] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ToolCall(SQLModel, table=True):
    __table_args__ = (
        Index("ux_toolcall_run_id_seq", "run_id", "seq", unique=True),
        Index("ux_toolcall_run_id_call_key", "run_id", "call_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("run.id", ondelete="CASCADE"), nullable=False))
    user_id: str = Field(max_length=USER_ID_MAX)
    seq: int
    # Identifies the call within its run so that a retried run replays it instead of repeating it.
    call_key: str = Field(max_length=512)
    name: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    result: Any | None = Field(default=None, sa_column=Column(JSONB))
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)
