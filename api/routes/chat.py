import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import WithJsonSchema
from sse_starlette import EventSourceResponse

from api.chatkit.route import ChatKitRoute
from api.deps import CurrentUser
from api.schemas import ChatRequest, ChatResponse, ErrorResponse
from api.services import chat as service
from api.services.stream import RunStream
from common import answers
from common.errors import RunTimeout

# ChatKit requests (a body with a ChatKit `type`) share this path; see api/chatkit/route.py.
router = APIRouter(tags=["chat"], route_class=ChatKitRoute)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 429, 503, 504)
}
ERRORS[400] = {"model": ErrorResponse, "description": "A malformed or unsupported ChatKit request."}
SSE_DOC = (
    "With `Accept: text/event-stream` the answer streams as Server-Sent Events: `run`, `delta`, `tool_call`, "
    "`tool_result`, `status` (`{state: waiting, reason, wait_s, message}` while the model call waits for "
    "its quota or for the model to recover, `{state: working}` once it is sent), then `done` (the JSON "
    "below) or `error`. Resume a dropped stream with the same `Idempotency-Key` and `Last-Event-ID`."
)


@router.post(
    "/api/{user_id}/chat",
    response_model=ChatResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": SSE_DOC}},
)
async def chat(
    request: Request,
    user_id: CurrentUser,
    body: ChatRequest,
    # A header is absent or a string, never null: document the headers without FastAPI's `anyOf [..., null]`.
    idempotency_key: Annotated[
        str | None, Header(max_length=255), WithJsonSchema({"type": "string", "maxLength": 255})
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=2**31),
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**31}),
    ] = None,
) -> object:
    """Send a message; the agent answers, calling task tools as needed.

    The same path speaks the ChatKit protocol (openai-chatkit): a body whose `type` is a ChatKit
    operation (`threads.create`, `threads.add_user_message`, `items.list`, …) is a ChatKit request and is
    answered in ChatKit's JSON or SSE frames; see docs/frontend.md."""
    state = request.app.state
    streaming = "text/event-stream" in request.headers.get("accept", "")
    run, created = await service.submit_message(
        state.db,
        user_id=user_id,
        request=body,
        idempotency_key=idempotency_key,
        max_inflight=state.settings.max_inflight_runs_per_user,
    )
    assert run.id is not None

    subscription = contextlib.AsyncExitStack()
    # Registered before enqueueing: no event is missed. A run someone else enqueued is followed on its
    # own channel.
    events = await subscription.enter_async_context(state.listener.listen(run.id, subscribe=not created))
    try:
        if created:
            await service.enqueue_after_commit(
                state.queue, run.id, reply_to=state.listener.reply_channel, stream=streaming
            )
        if streaming:
            stream = RunStream(
                db=state.db,
                redis=state.redis,
                prefix=state.settings.redis_prefix,
                run=run,
                user_id=user_id,
                events=events,
                last_event_id=last_event_id if not created else None,
                timeout_s=state.settings.stream_timeout_s,
                on_close=subscription.pop_all(),
            )
            return EventSourceResponse(stream, ping=15, headers={"X-Accel-Buffering": "no"})
        last = await service.wait_until_finished(
            state.db, events, run.id, timeout_s=state.settings.chat_timeout_s, maybe_finished=not created
        )
    finally:
        await subscription.aclose()
    if last is None:
        raise RunTimeout(f"Run {run.id} did not finish in time; its answer will land in its conversation.")
    # The worker's `done` carries the answer it committed; otherwise (a failed run, a lost event) it is
    # read back.
    return answers.carried(last.data) or await service.chat_result(state.db, run_id=run.id, user_id=user_id)
