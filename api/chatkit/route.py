"""POST /api/{user_id}/chat speaks two protocols. A body whose `type` is a ChatKit operation goes to the
ChatKit server; anything else (our `{message, conversation_id}` has no `type`) goes to the chat endpoint,
validated and documented exactly as before.

Every error is a plain HTTP status with our error JSON, streaming operations included: the thread is
loaded and the turn stored before `process()`, and the first frame is produced before the response
starts, so a foreign thread is a 404, never a 200 stream that breaks off.
"""

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, get_args

from chatkit.server import NonStreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    NonStreamingReq,
    StreamingReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
    UserMessageInput,
    UserMessageItem,
)
from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from api.chatkit.server import TaskchatChatKit, follow_run
from api.chatkit.store import RequestContext, parse_id
from api.deps import current_user
from api.schemas import ChatRequest
from api.services.chat import submit_message
from common.errors import BadRequest, NotFound

OPERATIONS = frozenset(
    r.model_fields["type"].default for r in (*get_args(StreamingReq), *get_args(NonStreamingReq))
)
SUPPORTED = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.retry_after_item",
        "threads.get_by_id",
        "threads.list",
        "threads.update",
        "threads.delete",
        "items.list",
        "items.feedback",
    }
)
REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
SERVER = TaskchatChatKit()


def chatkit_operation(body: bytes) -> str | None:
    if b'"type"' not in body:  # our own body: skip the extra parse
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    operation = data.get("type") if isinstance(data, dict) else None
    return operation if operation in OPERATIONS else None


class ChatKitRoute(APIRoute):
    """The chat route, with ChatKit bodies diverted before FastAPI validates the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        plain = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if chatkit_operation(await request.body()):  # the body is cached for the plain handler
                return await handle(request)
            return await plain(request)

        return handler


async def handle(request: Request) -> Response:
    state = request.app.state
    user_id = await current_user(request, request.path_params["user_id"])
    body = await request.body()
    try:
        parsed = REQUEST.validate_json(body)
    except ValidationError as exc:
        raise BadRequest(_problems(exc)) from None
    if parsed.type not in SUPPORTED:
        raise BadRequest(f"The ChatKit operation {parsed.type} is not supported by this server.")
    context = RequestContext(user_id=user_id, state=state)
    try:
        if thread := getattr(parsed.params, "thread_id", None):
            await SERVER.store.load_thread(thread, context)
        if isinstance(parsed, ThreadsRetryAfterItemReq):  # checked here too, so that errors are not logged
            item = await SERVER.store.load_item(parsed.params.thread_id, parsed.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise BadRequest("Only a user message can be retried.")
        if isinstance(parsed, ThreadsCreateReq | ThreadsAddUserMessageReq):
            zone = parsed.metadata.get("timezone") or request.headers.get("x-timezone")
            context.turn = await _submit(state, user_id, parsed, zone)
        result = await SERVER.process(body, context)
        if isinstance(result, NonStreamingResult):
            return Response(result.json, media_type="application/json")
        frames = aiter(result)
        first = await anext(frames)
    except BaseException as exc:
        await _release(context)
        if isinstance(exc, NotFoundError | StopAsyncIteration):  # no frame: the item to retry is not there
            raise NotFound(str(exc) or "Item not found.") from None
        if isinstance(exc, ValueError):  # ChatKit's own checks, e.g. retrying after a non-user item
            raise BadRequest(_problems(exc) if isinstance(exc, ValidationError) else str(exc)) from None
        raise

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield first
            async for frame in frames:
                yield frame
        finally:
            await _release(context)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _submit(
    state: Any, user_id: str, parsed: ThreadsCreateReq | ThreadsAddUserMessageReq, timezone: Any
) -> Any:
    """Store the user's message and its run and enqueue it: the chat endpoint's own path. The browser's
    time zone comes as the request's `metadata.timezone` or an `X-Timezone` header."""
    conversation = (
        parse_id(parsed.params.thread_id, "thr") if isinstance(parsed, ThreadsAddUserMessageReq) else None
    )
    try:
        chat = ChatRequest(
            message=_input_text(parsed.params.input), conversation_id=conversation, timezone=timezone
        )
    except ValidationError as exc:
        raise BadRequest(_problems(exc)) from None
    run, _ = await submit_message(
        state.db,
        user_id=user_id,
        request=chat,
        idempotency_key=None,
        max_inflight=state.settings.max_inflight_runs_per_user,
    )
    return await follow_run(state, run)


def _input_text(message: UserMessageInput) -> str:
    if message.attachments:
        raise BadRequest("Attachments are not supported.")
    return "".join(part.text for part in message.content)


async def _release(context: RequestContext) -> None:
    if context.turn is not None:
        await context.turn.subscription.aclose()


def _problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(
            f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))
        )
    return "; ".join(problems)[:1000] or "Invalid ChatKit request."
