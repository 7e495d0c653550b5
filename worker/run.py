"""One agent run for one user message: claim -> history -> agent -> persist -> publish.

No transaction stays open across a model or tool call. Dramatiq delivers at least once, so a run
that is already finished is skipped, and a retried run replays its recorded model steps and the tool
calls it already made (worker/replay.py).
"""

import copy
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import openai
from agents import Agent, ModelSettings, RunConfig, RunHooks, Runner, RunResultStreaming
from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError
from agents.items import ToolCallItem, ToolCallOutputItem
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent
from openai.types.responses import ResponseTextDeltaEvent
from redis.exceptions import RedisError
from sqlalchemy import (
    Interval,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from common import answers, logs
from common.db import UNAVAILABLE
from common.models import (
    UNFINISHED,
    Conversation,
    Message,
    ModelStep,
    Role,
    Run,
    RunStatus,
    UserState,
    utcnow,
)
from mcp_tools.ledger import StepConflict
from worker import metrics
from worker.gemini import MODEL_STATUS, ModelUnavailable
from worker.history import history_items, turns_for, turns_json
from worker.lease import LEASE
from worker.prompts import instructions
from worker.replay import ReplayModel, recorded_steps
from worker.runtime import Runtime
from worker.tools import RunContext

log = logging.getLogger("taskchat.worker")
# One for every run: the SDK only reads it, and building one builds a model provider too.
_RUN_CONFIG = RunConfig(tracing_disabled=True)

MAX_ATTEMPTS = 3
MAX_TURNS = 12
# A later message waits for earlier runs of its conversation, unless those look abandoned.
ORDERING_PATIENCE = timedelta(minutes=5)


class RunDeferred(Exception):
    """Not now: an earlier run of the conversation is unfinished, or another attempt holds the run or is
    ahead of this one."""


async def run_chat_job(
    rt: Runtime,
    run_id: int,
    *,
    request_id: str | None = None,
    reply_to: str | None = None,
    stream: bool = False,
) -> None:
    """`reply_to`: the API process's channel, which gets the run's events too. `stream`: publish token
    deltas and tool events as they happen (someone streams); otherwise only how the run ended."""
    logs.bind(request_id=request_id, run_id=run_id)
    claimed = await _claim(rt, run_id)
    if claimed is None:
        return
    run, turns, timezone = claimed
    try:
        async with rt.leases.hold(run_id, run.attempts):
            with metrics.IN_PROGRESS.track_inprogress():
                await _run_job(rt, run, turns, timezone, Events(rt, run_id, reply_to, stream))
    except StepConflict:
        # Another attempt of the run is ahead of this one: it answers; this one looks again later.
        log.info("chat.run.superseded attempt=%s", run.attempts)
        raise RunDeferred(run_id) from None


class Events:
    """Where a run's events go. Publishing is a transient convenience: a Redis blip must not fail the
    run (waiters fall back to Postgres, and a resumed stream is rebuilt from it)."""

    def __init__(self, rt: Runtime, run_id: int, reply_to: str | None, stream: bool) -> None:
        self.rt, self.run_id, self.reply_to, self.stream = rt, run_id, reply_to, stream

    async def publish(self, event: str, data: dict[str, Any]) -> None:
        try:
            await self.rt.events.publish(self.run_id, event, data, reply_to=self.reply_to)
        except RedisError as exc:
            log.warning("chat.run.event_lost event=%s error=%r", event, exc)


async def _run_job(rt: Runtime, run: Run, turns: list[dict[str, Any]], timezone: str, events: Events) -> None:
    logs.bind(conversation_id=run.conversation_id, user_id=run.user_id)
    if run.started_at and run.attempts == 1:
        metrics.QUEUE_WAIT.observe((run.started_at - run.created_at).total_seconds())
    log.info("chat.run.started attempt=%s", run.attempts)
    if run.attempts > MAX_ATTEMPTS:
        await _finish(
            rt,
            run,
            events,
            text="Sorry — I couldn't complete that request after several attempts. Please try again.",
            error=f"gave up after {MAX_ATTEMPTS} attempts",
        )
        return

    history = history_items(turns, run_id=run.id or 0)
    try:
        text = await _run_agent(rt, run, history, timezone, events)
    except Exception as exc:
        if (retried := _retry_cause(exc)) is not None:
            raise retried from None  # infrastructure, or another attempt is ahead: Dramatiq retries the run
        # The model or the agent failed: tell the user, record why.
        reason, error = _readable(exc), _error_detail(exc)
        metrics.MODEL_ERRORS.labels(type(exc).__name__).inc()
        log.warning("chat.run.failed error=%s", error, exc_info=not _expected(exc))
        await _finish(rt, run, events, text=reason, error=error)
        return
    await _finish(rt, run, events, text=text, error=None)


_RETRIED = (*UNAVAILABLE, RedisError, ConnectionError, StepConflict)


def _retry_cause(exc: BaseException | None) -> BaseException | None:
    """The error under `exc` that retries the run rather than ending it, if any: the SDK wraps what a
    tool raised (`worker.tools.tool_failure`) in its own error."""
    while exc is not None:
        if isinstance(exc, _RETRIED):
            return exc
        exc = exc.__cause__
    return None


# One statement each: taking the run (and its lease) and reading its history, and finishing it. A running
# run is taken only once its lease has lapsed (its attempt died). A run waits while an earlier run of its
# conversation is unfinished, unless that one looks abandoned.
_earlier = Run.__table__.alias("earlier")  # type: ignore[attr-defined]
_claimed = (
    update(Run)
    .where(
        Run.id == bindparam("run_id"),
        or_(
            Run.status == RunStatus.queued,
            and_(Run.status == RunStatus.running, func.coalesce(Run.lease_expires_at < func.now(), true())),
        ),
        ~exists().where(
            _earlier.c.conversation_id == Run.conversation_id,
            _earlier.c.id < Run.id,
            _earlier.c.status.in_(UNFINISHED),
            _earlier.c.created_at > func.now() - bindparam("patience", type_=Interval()),
        ),
    )
    .values(
        status=RunStatus.running,
        attempts=Run.attempts + 1,
        started_at=func.now(),
        lease_expires_at=func.now() + bindparam("lease", type_=Interval()),
    )
    .returning(
        Run.id,
        Run.user_id,
        Run.conversation_id,
        Run.user_message_id,
        Run.attempts,
        Run.created_at,
        Run.started_at,
    )
    .cte("claimed")
)
_zone = select(UserState.timezone).where(UserState.user_id == _claimed.c.user_id).scalar_subquery()
_CLAIM = select(_claimed, turns_json(_claimed), func.coalesce(_zone, "UTC").label("timezone"))
_STATUS = select(Run.status).where(Run.id == bindparam("run_id"))
# The run is finished only by the attempt that still has it `running`; the answer's id is drawn first so
# that the run row, the answer and the conversation's timestamp change in one statement.
_answer_id = select(func.nextval(func.pg_get_serial_sequence(Message.__tablename__, "id")).label("id")).cte(
    "answer_id"
)
_finished = (
    update(Run)
    .where(Run.id == bindparam("run_id"), Run.status == RunStatus.running)
    .values(
        status=bindparam("p_status"),
        error=bindparam("p_error"),
        finished_at=func.now(),
        lease_expires_at=None,
        assistant_message_id=select(_answer_id.c.id).scalar_subquery(),
    )
    .returning(Run.id, Run.assistant_message_id, Run.conversation_id, Run.user_id)
    .cte("finished")
)
_answer = (
    insert(Message)
    .from_select(
        ["id", "user_id", "conversation_id", "role", "content", "created_at"],
        select(
            _finished.c.assistant_message_id,
            _finished.c.user_id,
            _finished.c.conversation_id,
            literal(Role.assistant.value),
            bindparam("p_content", type_=Message.content.type),
            func.now(),
        ),
    )
    .returning(Message.id)
    .cte("answer")
)
# Finishing gives the run's place under the user's in-flight cap back (api/services/chat.py).
_given_back = (
    update(UserState)
    .where(UserState.user_id == select(_finished.c.user_id).scalar_subquery())
    .values(runs_in_flight=func.greatest(UserState.runs_in_flight - 1, 0), updated_at=func.now())
    .returning(UserState.user_id)
    .cte("given_back")
)
# A finished run is never replayed: its recorded model steps go with the finish.
_forgotten = (
    delete(ModelStep).where(ModelStep.run_id == select(_finished.c.id).scalar_subquery()).cte("forgotten")
)
_FINISH = (
    update(Conversation)
    .where(
        Conversation.id == select(_finished.c.conversation_id).scalar_subquery(), exists(select(_answer.c.id))
    )
    .values(updated_at=func.now())
    # The answer for the `done` event (`common.answers`): the API need not read it back.
    .returning(
        select(_answer.c.id).scalar_subquery().label("message_id"),
        answers.tool_calls(
            select(_finished.c.id).scalar_subquery(), select(_finished.c.user_id).scalar_subquery()
        ).label("tool_calls"),
    )
    .add_cte(_given_back, _forgotten)
)


async def _claim(rt: Runtime, run_id: int) -> tuple[Run, list[dict[str, Any]], str] | None:
    """Take the run unless it is finished, another attempt holds it, or an earlier run of its conversation
    is unfinished (those last two: `RunDeferred`)."""
    params = {
        "run_id": run_id,
        "lease": LEASE,
        "patience": ORDERING_PATIENCE,
        "turns": turns_for(rt.settings.history_max_messages),
    }
    row = await rt.db.one(_CLAIM, params)
    if row is not None:
        fields = dict(row)
        turns, timezone = fields.pop("turns"), fields.pop("timezone")
        return Run(**fields), turns, timezone
    status = await rt.db.scalar(_STATUS, {"run_id": run_id})
    if status in UNFINISHED:
        raise RunDeferred(run_id)
    return None  # unknown, or a duplicate delivery of a finished run


async def _run_agent(
    rt: Runtime, run: Run, history: list[dict[str, Any]], timezone: str, events: Events
) -> str:
    # A retry gets back the model responses its earlier attempts recorded; a first attempt has none.
    recorded = await recorded_steps(rt.db, run.id or 0) if run.attempts > 1 else {}
    model = ReplayModel(rt.model, recorded=recorded, unrecorded=rt.tools.unrecorded_steps(run.id or 0))
    # An agent per run in flight: the SDK checks the tool lists of all runs sharing an Agent object on
    # every turn, which with hundreds of runs in flight costs more than building the agent. Building one
    # costs too (its __post_init__ resolves type hints), so a finished run's agent serves the next run,
    # and a new one is a copy of the first.
    agent = rt.idle_agents.pop() if rt.idle_agents else _new_agent(rt)
    agent.instructions, agent.model = instructions(timezone), model
    context = RunContext(run_id=run.id or 0, user_id=run.user_id, timezone=timezone, retried=run.attempts > 1)
    options: dict[str, Any] = {
        "context": context,
        "max_turns": MAX_TURNS,
        "hooks": _ModelTimer(),
        "run_config": _RUN_CONFIG,
    }
    # A streaming client hears when the model call has to wait (the shared quota, a provider pause).
    status = MODEL_STATUS.set(_status_publisher(events) if events.stream else None)
    try:
        if not events.stream:  # nobody streams: the SDK's non-streamed loop costs less
            result = await Runner.run(agent, history, **options)
        else:
            streamed = Runner.run_streamed(agent, history, **options)
            await _relay(streamed, events)
            result = streamed
    finally:
        MODEL_STATUS.reset(status)
        rt.tools.forget_run(run.id or 0)
        if model.replayed:
            log.info("chat.run.replayed steps=%s", model.replayed)
    agent.model = rt.model  # not the run's recorder, which would be kept alive
    rt.idle_agents.append(agent)  # only after a whole run: a failed stream's task may still use it
    return str(result.final_output or "").strip() or "Done."


def _new_agent(rt: Runtime) -> Agent[RunContext]:
    if rt.agent_template is None:
        rt.agent_template = Agent[RunContext](
            name="taskchat",
            model=rt.model,
            tools=list(rt.function_tools),
            model_settings=ModelSettings(temperature=0.2),
        )
    agent = copy.copy(rt.agent_template)  # a distinct Agent object, without its __post_init__ again
    agent.tools = list(rt.function_tools)
    return agent


def _status_publisher(events: Events) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def publish(data: dict[str, Any]) -> None:
        await events.publish("status", data)

    return publish


async def _relay(result: RunResultStreaming, events: Events) -> None:
    names: dict[str, str] = {}
    async for event in result.stream_events():
        if isinstance(event, RawResponsesStreamEvent) and isinstance(event.data, ResponseTextDeltaEvent):
            await events.publish("delta", {"text": event.data.delta})
        elif isinstance(event, RunItemStreamEvent) and isinstance(event.item, ToolCallItem):
            raw = event.item.raw_item
            call_id, name = getattr(raw, "call_id", ""), getattr(raw, "name", "")
            names[call_id] = name
            arguments = _json_or_text(getattr(raw, "arguments", "{}"))
            await events.publish("tool_call", {"call_id": call_id, "name": name, "arguments": arguments})
        elif isinstance(event, RunItemStreamEvent) and isinstance(event.item, ToolCallOutputItem):
            raw = event.item.raw_item
            call_id = raw.get("call_id", "") if isinstance(raw, dict) else getattr(raw, "call_id", "")
            result_data = {
                "call_id": call_id,
                "name": names.get(call_id, ""),
                "result": _json_or_text(event.item.output),
            }
            await events.publish("tool_result", result_data)


async def _finish(rt: Runtime, run: Run, events: Events, *, text: str, error: str | None) -> None:
    status = RunStatus.failed if error else RunStatus.succeeded
    params = {"run_id": run.id, "p_status": str(status), "p_error": error, "p_content": text}
    finished = await rt.db.one(_FINISH, params)
    if finished is None:
        return  # another attempt finished it
    outcome = "failed" if error else "succeeded"
    metrics.RUNS.labels(outcome).inc()
    if run.started_at:
        metrics.RUN_SECONDS.observe((utcnow() - run.started_at).total_seconds())
    log.info("chat.run.%s", outcome)
    if error:
        await events.publish("error", {"code": "run_failed", "message": text})
    else:
        answer = {"run_id": run.id, "conversation_id": run.conversation_id, "response": text, **finished}
        await events.publish("done", {name: answer[name] for name in answers.FIELDS})


class _ModelTimer(RunHooks[Any]):
    """Model latency per call, for the metrics."""

    def __init__(self) -> None:
        self._started: list[float] = []

    async def on_llm_start(self, context: Any, agent: Any, system_prompt: Any, input_items: Any) -> None:
        self._started.append(time.perf_counter())

    async def on_llm_end(self, context: Any, agent: Any, response: Any) -> None:
        if self._started:
            metrics.MODEL_SECONDS.observe(time.perf_counter() - self._started.pop())


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _error_detail(exc: BaseException) -> str:
    detail = f"{type(exc).__name__}: {exc}"
    # Gemini's error body is a JSON list, so the openai client's message is only "Error code: N":
    # keep the body, or the reason (bad key, missing thought signature, quota) is lost.
    if isinstance(exc, openai.APIStatusError) and exc.body is not None:
        if str(exc) == f"Error code: {exc.status_code}":
            detail += " " + json.dumps(exc.body, default=str)
    if isinstance(exc, ModelUnavailable) and exc.__cause__ is not None:  # the provider's last answer
        detail += " <- " + _error_detail(exc.__cause__)
    return detail[:2000]


def _expected(exc: Exception) -> bool:
    return isinstance(
        exc, openai.APIError | ModelUnavailable | MaxTurnsExceeded | ModelBehaviorError | TimeoutError
    )


def _readable(exc: Exception) -> str:
    if isinstance(exc, ModelUnavailable):
        return exc.readable
    if isinstance(exc, openai.RateLimitError):
        return "Sorry — the AI model is busy right now (rate limited). Please try again in a minute."
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return "Sorry — the AI model took too long to answer. Please try again."
    if isinstance(exc, openai.APIStatusError):
        return f"Sorry — the AI model returned an error ({exc.status_code}). Please try again."
    if isinstance(exc, openai.APIConnectionError):
        return "Sorry — I couldn't reach the AI model. Please try again."
    if isinstance(exc, MaxTurnsExceeded):
        return "Sorry — that request needed too many steps. Could you break it into smaller ones?"
    if isinstance(exc, ModelBehaviorError):
        return "Sorry — the AI model gave a malformed answer. Please try again."
    return "Sorry — something went wrong while answering. Please try again."
