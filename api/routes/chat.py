from typing import Annotated

from fastapi import APIRouter, Header, Request

from api.deps import CurrentUser, SessionDep
from api.schemas import ChatRequest, ChatResponse, ErrorResponse
from api.services import chat as service
from common.errors import RunTimeout

router = APIRouter(tags=["chat"])

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 429, 503, 504)
}


@router.post("/api/{user_id}/chat", response_model=ChatResponse, responses=ERRORS)
async def chat(
    request: Request,
    user_id: CurrentUser,
    body: ChatRequest,
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> dict[str, object]:
    """Send a message; the agent answers, calling task tools as needed."""
    state = request.app.state
    run, created = await service.submit_message(
        session,
        user_id=user_id,
        request=body,
        idempotency_key=idempotency_key,
        max_inflight=state.settings.max_inflight_runs_per_user,
    )
    assert run.id is not None
    await session.close()  # no connection is held while the model works
    async with state.listener.listen(run.id) as events:  # subscribed before enqueueing
        if created:
            await service.enqueue_after_commit(state.broker, run.id)
        finished = await service.wait_until_finished(
            state.sessions, events, run.id, timeout_s=state.settings.chat_timeout_s
        )
    if not finished:
        raise RunTimeout(
            f"Run {run.id} did not finish in time; its answer will land in conversation "
            f"{run.conversation_id}."
        )
    async with state.sessions() as fresh:
        return await service.chat_result(fresh, run_id=run.id, user_id=user_id)
