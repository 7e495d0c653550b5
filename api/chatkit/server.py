"""The ChatKit server: `respond()` follows a run the chat service created and enqueued (the same path as
the chat endpoint) and relays its events; it never runs the agent. A client that goes away leaves the
run going, and the worker writes the answer into the thread."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.types import ThreadItem, ThreadMetadata, ThreadStreamEvent, UserMessageItem
from sqlalchemy import func
from sqlmodel import select

from api.chatkit.events import RunEventTranslator
from api.chatkit.store import PostgresStore, RequestContext, item_id, parse_id, short_title
from api.services.chat import enqueue_after_commit, resubmit_message
from api.services.stream import RunStream
from common.errors import TaskchatError
from common.events import RunEvent
from common.models import Run

log = logging.getLogger("taskchat.chatkit")
MESSAGE_SEQUENCE = func.pg_get_serial_sequence("message", "id")


@dataclass
class Turn:
    run: Run
    events: "asyncio.Queue[RunEvent]"
    subscription: contextlib.AsyncExitStack  # closing it unsubscribes


async def follow_run(state: Any, run: Run) -> Turn:
    """Subscribe to the run's events, then enqueue it (so that no event is missed)."""
    assert run.id is not None
    subscription = contextlib.AsyncExitStack()
    events = await subscription.enter_async_context(state.listener.listen(run.id))
    try:
        await enqueue_after_commit(state.queue, run.id, reply_to=state.listener.reply_channel, stream=True)
    except BaseException:
        await subscription.aclose()
        raise
    return Turn(run=run, events=events, subscription=subscription)


def message_text(item: UserMessageItem) -> str:
    return "".join(part.text for part in item.content).strip()


class TaskchatChatKit(ChatKitServer[RequestContext]):
    def __init__(self) -> None:
        super().__init__(PostgresStore())

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:  # client tool output / structured input: rejected by the route
            raise CustomStreamError("This server only answers user messages.")
        state = context.state
        try:
            if context.turn is None:  # threads.retry_after_item: a new run for the same message
                run = await resubmit_message(
                    state.db,
                    user_id=context.user_id,
                    conversation_id=parse_id(thread.id, "thr"),
                    message_id=parse_id(input_user_message.id, "msg"),
                    max_inflight=state.settings.max_inflight_runs_per_user,
                )
                context.turn = await follow_run(state, run)
            async with state.sessions() as session:
                # The answer's row does not exist yet: stream it under an id that no row will ever have.
                provisional = (await session.exec(select(func.nextval(MESSAGE_SEQUENCE)))).one()
        except TaskchatError as exc:
            raise CustomStreamError(exc.message, allow_retry=exc.status_code in (429, 503)) from exc
        if thread.title is None:  # a new thread: the server saves the title and sends `thread.updated`
            thread.title = short_title(message_text(input_user_message))
        turn: Turn = context.turn
        translator = RunEventTranslator(
            thread.id, answer_id=item_id(provisional), workflow_id=f"wf_{turn.run.id}"
        )
        stream = RunStream(
            db=state.db,
            redis=state.redis,
            prefix=state.settings.redis_prefix,
            run=turn.run,
            user_id=context.user_id,
            events=turn.events,
            last_event_id=None,
            timeout_s=state.settings.stream_timeout_s,
            on_close=turn.subscription,
        )
        async for event in stream:  # the chat endpoint's SSE events (their data already JSON text)
            for translated in translator.feed(event.event or "", json.loads(event.data)):
                yield translated

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        # Nothing to save or stop: the run goes on and the worker writes the whole answer.
        log.info("chatkit.stream_cancelled thread=%s", thread.id)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: Any, context: RequestContext
    ) -> None:
        # Not stored; but a foreign thread or a malformed item id is "not found", as everywhere.
        await self.store.load_thread(thread_id, context)
        for item in item_ids:
            parse_id(item, "msg")
        log.info("chatkit.feedback thread=%s items=%s kind=%s", thread_id, len(item_ids), feedback)
