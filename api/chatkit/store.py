"""ChatKit's Store over our tables: a thread is a Conversation (`thr_{id}`), an item a Message
(`msg_{id}`). Every query filters by the authenticated user; a foreign or malformed id is "not found".

The chat service and the worker are the only writers of messages (the user's with its run, the
assistant's when the run ends), so ChatKit's own item writes are no-ops: that is what keeps a second
assistant row from appearing. Tool activity (workflow items) is shown live and not stored.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    InferenceOptions,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from sqlalchemy import delete, update
from sqlmodel import col, select

from api.schemas import PG_INT_MAX
from api.services.chat import FIRST_USER_MESSAGE
from common.errors import BadRequest
from common.models import TITLE_MAX, Conversation, Message, Role

MAX_PAGE = 100
TITLE_CHARS = 60
_ID = re.compile(r"(thr|msg)_([1-9][0-9]{0,9})")


@dataclass
class RequestContext:
    user_id: str
    state: Any  # the app's state: sessions, redis, broker, listener, settings
    turn: Any = field(default=None)  # server.Turn: the run this request submitted, followed by respond()


def thread_id(pk: int) -> str:
    return f"thr_{pk}"


def item_id(pk: int) -> str:
    return f"msg_{pk}"


def parse_id(value: str | None, prefix: str) -> int:
    """Strict: no leading zeros (one id, one row), no overflow; anything else is simply not found."""
    match = _ID.fullmatch(value or "")
    if match is None or match.group(1) != prefix or int(match.group(2)) > PG_INT_MAX:
        raise NotFoundError("Thread not found." if prefix == "thr" else "Item not found.")
    return int(match.group(2))


def page_size(limit: int) -> int:
    if limit < 1:
        raise BadRequest("limit must be at least 1.")
    return min(limit, MAX_PAGE)


def clean_title(title: str | None) -> str | None:
    title = (title or "").strip()
    if len(title) > TITLE_MAX or "\x00" in title:
        raise BadRequest(f"A title has at most {TITLE_MAX} characters and no NUL.")
    return title or None


def to_item(message: Message, thread: str) -> ThreadItem:
    common = {"id": item_id(message.id or 0), "thread_id": thread, "created_at": message.created_at}
    if message.role == Role.user:
        return UserMessageItem(
            **common,
            content=[UserMessageTextContent(text=message.content)],
            inference_options=InferenceOptions(),
        )
    return AssistantMessageItem(**common, content=[AssistantMessageContent(text=message.content)])


class PostgresStore(Store[RequestContext]):
    def generate_thread_id(self, context: RequestContext) -> str:
        # threads.create: the route already created the conversation with the turn (ids are serial).
        return thread_id(context.turn.run.conversation_id)

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        if item_type == "message" and context.turn is not None:
            return item_id(context.turn.run.user_message_id)
        return default_generate_id(item_type)  # never stored

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        pk = parse_id(thread_id, "thr")
        async with context.state.sessions() as session:
            row = (
                await session.exec(
                    select(Conversation, FIRST_USER_MESSAGE).where(
                        Conversation.id == pk, Conversation.user_id == context.user_id
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError("Thread not found.")
        return _metadata(*row)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        pk, title = parse_id(thread.id, "thr"), clean_title(thread.title)
        async with context.state.sessions() as session:
            result = await session.exec(
                update(Conversation)
                .where(col(Conversation.id) == pk, col(Conversation.user_id) == context.user_id)
                .values(title=title)
            )
            await session.commit()
        if result.rowcount == 0:
            raise NotFoundError("Thread not found.")

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        size = page_size(limit)
        stmt = select(Conversation, FIRST_USER_MESSAGE).where(Conversation.user_id == context.user_id)
        if after is not None:  # a position, not a read: no ownership needed
            cursor = parse_id(after, "thr")
            stmt = stmt.where(
                col(Conversation.id) < cursor if order == "desc" else col(Conversation.id) > cursor
            )
        ordering = col(Conversation.id).desc() if order == "desc" else col(Conversation.id)
        async with context.state.sessions() as session:
            rows = (await session.exec(stmt.order_by(ordering).limit(size + 1))).all()
        data = [_metadata(*row) for row in rows[:size]]
        has_more = len(rows) > size
        return Page(data=data, has_more=has_more, after=data[-1].id if has_more else None)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        await self.load_thread(thread_id, context)
        pk, size = parse_id(thread_id, "thr"), page_size(limit)
        stmt = select(Message).where(Message.conversation_id == pk, Message.user_id == context.user_id)
        if after is not None:
            cursor = parse_id(after, "msg")
            stmt = stmt.where(col(Message.id) < cursor if order == "desc" else col(Message.id) > cursor)
        ordering = col(Message.id).desc() if order == "desc" else col(Message.id)
        async with context.state.sessions() as session:
            rows = (await session.exec(stmt.order_by(ordering).limit(size + 1))).all()
        data = [to_item(m, thread_id) for m in rows[:size]]
        has_more = len(rows) > size
        return Page(data=data, has_more=has_more, after=data[-1].id if has_more else None)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        pk, message_pk = parse_id(thread_id, "thr"), parse_id(item_id, "msg")
        async with context.state.sessions() as session:
            message = (
                await session.exec(
                    select(Message).where(
                        Message.id == message_pk,
                        Message.conversation_id == pk,
                        Message.user_id == context.user_id,
                    )
                )
            ).first()
        if message is None:
            raise NotFoundError("Item not found.")
        return to_item(message, thread_id)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """No-op: the route stored the user's message with its run; the worker stores the answer."""

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """No-op, as add_thread_item."""

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        pk = parse_id(thread_id, "thr")
        async with context.state.sessions() as session:
            # Messages, runs and their tool calls go with it (ON DELETE CASCADE); tasks stay.
            result = await session.exec(
                delete(Conversation).where(
                    col(Conversation.id) == pk, col(Conversation.user_id) == context.user_id
                )
            )
            await session.commit()
        if result.rowcount == 0:
            raise NotFoundError("Thread not found.")

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        # Idempotent: respond() removes its provisional answer item, which never had a row.
        pk, message_pk = parse_id(thread_id, "thr"), parse_id(item_id, "msg")
        async with context.state.sessions() as session:
            await session.exec(
                delete(Message).where(
                    col(Message.id) == message_pk,
                    col(Message.conversation_id) == pk,
                    col(Message.user_id) == context.user_id,
                )
            )
            await session.commit()

    # Attachments are not supported: the route rejects them before anything is stored.
    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        raise NotFoundError("Attachments are not supported.")

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        raise NotFoundError("Attachments are not supported.")

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        raise NotFoundError("Attachments are not supported.")


def _metadata(conversation: Conversation, first_message: str | None) -> ThreadMetadata:
    # Untitled (started through the JSON endpoint, or renamed to ""): its first message names it.
    title = conversation.title or (short_title(first_message) if first_message else None)
    return ThreadMetadata(id=thread_id(conversation.id or 0), title=title, created_at=conversation.created_at)


def short_title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
