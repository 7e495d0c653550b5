import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import WithJsonSchema
from sse_starlette import EventSourceResponse

from api.deps import CurrentUser
from api.schemas import ErrorResponse
from api.services.feed import UserFeed
from common.userevents import POSITION, channel

router = APIRouter(tags=["events"])
ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorResponse} for code in (401, 403, 422, 503)}
DOC = (
    "Server-Sent Events, each with an increasing `id:`: `task` (`{change: added|updated|completed|deleted, "
    "task}`, made by any client or tab), `reminder` (`{reminder_id, task_id, title, text, remind_at, "
    "due_at, all_day, conversation_id, message_id}`, as the reminder lands in the conversation), first "
    "`ready` (`{last_event_id}`), or `resync` when the events after `Last-Event-ID` are no longer kept "
    "(reload your state, then go on). Comment pings keep proxies open; the stream ends after 15 minutes: "
    "reconnect with `Last-Event-ID`."
)


@router.get(
    "/api/{user_id}/events",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": DOC}},
    response_class=EventSourceResponse,
)
async def events(
    request: Request,
    user_id: CurrentUser,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=2**31),
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**31}),
    ] = None,
) -> EventSourceResponse:
    """Your reminders and task changes as they happen, resumable with `Last-Event-ID` without gaps or
    duplicates (browsers: read it with fetch, since EventSource cannot send the Authorization header)."""
    state = request.app.state
    following = contextlib.AsyncExitStack()
    try:
        # Followed before the position is read: nothing committed after the read goes unnoticed.
        nudges = await following.enter_async_context(
            state.listener.follow(channel(state.settings.redis_prefix, user_id))
        )
        position = await state.db.one(POSITION, {"user_id": user_id})
    except BaseException:
        await following.aclose()
        raise
    assert position is not None
    feed = UserFeed(
        db=state.db,
        user_id=user_id,
        nudges=nudges,
        position=(position["last"], position["first"]),
        last_event_id=last_event_id,
        on_close=following,
    )
    return EventSourceResponse(feed, ping=15, headers={"X-Accel-Buffering": "no"})
