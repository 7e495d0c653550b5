"""Gemini in production: every model call goes through `PacedModel`, a wrapper with the SDK's `Model`
interface around the Chat Completions model(s), so that a quota turns into waiting, not into errors.

Per call: take a place in the shared pace (worker/pace.py) and wait for it, holding the run's lease (the
lease keeper renews it) so that the run keeps its place and its conversation's order; then send. On a 429
honour Gemini's `RetryInfo.retryDelay` by pausing the pace for every worker, and send again when it has
passed; on a 503, other 5xx, a timeout or a lost connection back off with jitter (and count towards the
shared breaker); on a per-day quota answer at once. `GEMINI_FALLBACK_MODELS` are tried in order when the
model before them answers 429 or 503, is paused, or has its breaker open or its daily quota used up.
When a call gives up it raises `ModelUnavailable`, whose `readable` text is what the user reads and whose
cause keeps the provider's reason for the run's `error` column.

A streaming client hears about a wait through the `status` callback of the running run (`MODEL_STATUS`).
"""

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import openai
from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from openai.types.responses.response_prompt_param import ResponsePromptParam

from worker import metrics
from worker.pace import Grant, Pace

log = logging.getLogger("taskchat.gemini")

# The running run's way to tell its streaming client about waits: set by worker/run.py.
MODEL_STATUS: ContextVar[Callable[[dict[str, Any]], Awaitable[None]] | None] = ContextVar(
    "taskchat_model_status", default=None
)
STATUS_AFTER_S = 0.5  # shorter waits are not worth an event
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 8.0
DEFAULT_429_DELAY_S = 5.0  # a 429 without RetryInfo (Gemini always sends one)
DAY_CLOSED_MAX_S = 900.0  # look again after at most 15 minutes: a quota can be raised during the day

BUSY = (
    "Sorry — the AI model is busy: more requests are waiting than its quota allows right now. "
    "Please try again in a few minutes."
)
DAILY = (
    "Sorry — the AI model's daily quota is used up, so I can't answer right now. "
    "It resets at midnight Pacific time; please try again later."
)
OVERLOADED = "Sorry — the AI model is overloaded right now. Please try again in a few minutes."
FAILING = "Sorry — the AI model keeps failing right now. Please try again in a few minutes."
TOO_SLOW = "Sorry — the AI model took too long to answer. Please try again."
UNREACHABLE = "Sorry — I couldn't reach the AI model. Please try again."

WAITING = {
    "pace": "Waiting for the AI model: other requests are ahead of yours in its quota",
    "paused": "Waiting for the AI model: its quota is exhausted for the moment",
    "unavailable": "Waiting for the AI model to recover from errors",
    "retrying": "The AI model failed; trying again",
}


class ModelUnavailable(Exception):
    """A model call gave up. `readable` is for the user; `str()` and the cause are for the run's error."""

    def __init__(self, readable: str, detail: str) -> None:
        super().__init__(detail)
        self.readable = readable


class _Quota:
    def __init__(self, exc: openai.APIStatusError) -> None:
        """What a 429 says: Gemini's body is a list of one error with `details` (QuotaFailure, RetryInfo)."""
        self.retry_s: float | None = None
        self.quota_ids: list[str] = []
        body = exc.body[0] if isinstance(exc.body, list) and exc.body else exc.body
        error = body.get("error", body) if isinstance(body, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        for detail in details if isinstance(details, list) else []:
            if not isinstance(detail, dict):
                continue
            kind = str(detail.get("@type", ""))
            if kind.endswith("RetryInfo"):
                self.retry_s = _duration(detail.get("retryDelay"))
            elif kind.endswith("QuotaFailure"):
                self.quota_ids += [str(v.get("quotaId", "")) for v in detail.get("violations") or []]
        if self.retry_s is None:  # another provider's way: the headers the openai client reads
            headers = exc.response.headers
            if headers.get("retry-after-ms"):
                self.retry_s = _number(headers["retry-after-ms"], 1000)
            elif headers.get("retry-after"):
                self.retry_s = _number(headers["retry-after"], 1)
        self.daily = any("PerDay" in quota for quota in self.quota_ids)
        tokens = any("Token" in quota for quota in self.quota_ids)
        self.kind = "day" if self.daily else "tokens" if tokens else "requests"


def _duration(value: object) -> float | None:
    """A protobuf Duration as JSON: seconds with an `s` suffix, perhaps fractional ("37s", "0.8s")."""
    if isinstance(value, str) and value.endswith("s"):
        return _number(value[:-1], 1)
    return None


def _number(text: str, per_second: float) -> float | None:
    try:
        return max(0.0, float(text) / per_second)
    except ValueError:
        return None


def _server_trouble(exc: Exception) -> str | None:
    """A failure worth another try and worth counting towards the breaker: its label, else None."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return str(exc.status_code)
    return None


class _Call:
    """One model call's journey: which model it is on, how often it retried, how long it may still wait."""

    def __init__(self, owner: "PacedModel", cost: int) -> None:
        self.owner, self.cost = owner, cost
        self.index = 0
        self.retries = 0
        self.deadline = asyncio.get_running_loop().time() + owner.max_wait_s
        self.told: str | None = None  # the wait reason the streaming client last heard
        self.last_error: Exception | None = None  # the provider's last refusal, for the run's error

    @property
    def name(self) -> str:
        return self.owner.names[self.index]

    @property
    def pace(self) -> Pace:
        return self.owner.paces[self.name]

    def fall_back(self) -> bool:
        if self.index + 1 >= len(self.owner.names):
            return False
        self.index += 1
        self.retries = 0
        metrics.MODEL_FALLBACKS.labels(self.name).inc()
        return True

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    async def admit(self) -> tuple[Model, Grant]:
        """Wait for this call's turn; the model to send it to (a fallback if the primary cannot serve)."""
        while True:
            grant = await self.pace.acquire(cost=self.cost, max_wait_s=max(0.0, self.remaining()))
            metrics.set_breaker(self.name, grant.breaker)
            if grant.kind == "wait" and grant.reason != "pace" and len(self.owner.names) > self.index + 1:
                await self.pace.release(grant.member)  # paused or broken: the next model instead
                self.fall_back()
                continue
            if grant.kind == "wait":
                grant = await self._wait(grant)
            if grant.kind == "go":
                return self.owner.models[self.name], grant
            if self.fall_back():
                continue
            if grant.kind == "day":
                detail = f"the daily quota of {self.name} is used up"
                raise ModelUnavailable(DAILY, detail) from self.last_error
            readable = FAILING if grant.reason == "unavailable" else BUSY
            detail = f"{self.name}: no turn within {self.owner.max_wait_s:g} s ({grant.reason})"
            raise ModelUnavailable(readable, detail) from self.last_error

    async def _wait(self, grant: Grant) -> Grant:
        waited, reason = 0.0, grant.reason
        try:
            while grant.kind == "wait":
                reason = grant.reason
                if grant.wait_s > self.remaining():
                    await self.pace.release(grant.member)
                    return dataclasses.replace(grant, kind="full", probe=False)
                await self.tell_waiting(reason, grant.wait_s)
                await asyncio.sleep(grant.wait_s)
                waited += grant.wait_s
                grant = await self.pace.confirm(grant.member)
                metrics.set_breaker(self.name, grant.breaker)
        except asyncio.CancelledError:  # the run's time limit: give the place up
            with contextlib.suppress(Exception):
                await self.pace.release(grant.member)
            raise
        finally:
            if waited:
                metrics.LIMITER_WAIT.labels(reason).observe(waited)
        return grant

    async def tell_waiting(self, reason: str, wait_s: float) -> None:
        notify = MODEL_STATUS.get()
        if notify is None or wait_s < STATUS_AFTER_S or reason == self.told:
            return  # (a call held for a probe asks again every 250 ms: one event is enough)
        self.told = reason
        message = f"{WAITING[reason]} (about {max(1, round(wait_s))} s)…"
        await notify({"state": "waiting", "reason": reason, "wait_s": round(wait_s, 1), "message": message})

    async def sent(self) -> None:
        notify = MODEL_STATUS.get()
        if notify is not None and self.told:
            self.told = None
            await notify({"state": "working"})

    async def succeeded(self, grant: Grant) -> None:
        if not grant.clean:
            metrics.set_breaker(self.name, (await self.pace.succeeded(grant.member)).breaker)

    async def failed(self, grant: Grant, exc: Exception) -> None:
        """Decide after a failed send: return to try again (perhaps on a fallback), or raise."""
        name, pace = self.name, self.pace
        self.last_error = exc
        if isinstance(exc, openai.RateLimitError):
            quota = _Quota(exc)
            metrics.RATE_LIMITED.labels(name, quota.kind).inc()
            log.warning(
                "model.rate_limited model=%s quota=%s retry_s=%s", name, quota.quota_ids, quota.retry_s
            )
            if quota.daily:
                closed_for = (
                    DAY_CLOSED_MAX_S if quota.retry_s is None else min(quota.retry_s, DAY_CLOSED_MAX_S)
                )
                await pace.day_closed(grant.member, closed_for)
                if self.fall_back():
                    return
                raise ModelUnavailable(DAILY, f"the daily quota of {name} is used up") from exc
            await pace.limited(grant.member, DEFAULT_429_DELAY_S if quota.retry_s is None else quota.retry_s)
            self.fall_back()  # or wait for the pause on this one
            return
        trouble = _server_trouble(exc)
        if trouble is None:  # a 400, a bad key, a malformed answer: not ours to retry
            await self.succeeded(grant)  # the model did answer
            raise exc
        metrics.SERVER_ERRORS.labels(name, trouble).inc()
        metrics.set_breaker(name, (await pace.failed(grant.member)).breaker)
        self.retries += 1
        if (trouble == "503" or self.retries > self.owner.max_retries) and self.fall_back():
            return
        if self.retries > self.owner.max_retries:
            raise ModelUnavailable(_readable(exc), f"{name} failed {self.retries} times") from exc
        backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (self.retries - 1))
        backoff = backoff / 2 + random.uniform(0, backoff / 2)  # jitter: workers must not retry in step
        if backoff > self.remaining():
            raise ModelUnavailable(_readable(exc), f"{name} failed; no time left to retry") from exc
        log.info("model.retry model=%s after=%s backoff_s=%.2f", name, trouble, backoff)
        await self.tell_waiting("retrying", backoff)
        await asyncio.sleep(backoff)
        metrics.LIMITER_WAIT.labels("retrying").observe(backoff)


def _readable(exc: Exception) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return TOO_SLOW
    if isinstance(exc, openai.APIConnectionError):
        return UNREACHABLE
    if isinstance(exc, openai.APIStatusError) and exc.status_code == 503:
        return OVERLOADED
    return FAILING


class PacedModel(Model):
    """Shared pace, 429/5xx handling, breaker and fallbacks around Chat Completions models (one per
    name, sharing one client, which `close` closes). Built once per worker process; the same interface
    as any SDK `Model`, so that it can be wrapped again."""

    def __init__(
        self,
        models: dict[str, Model],
        paces: dict[str, Pace],
        *,
        max_retries: int,
        max_wait_s: float,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.models, self.paces, self.client = models, paces, client
        self.names = list(models)  # the primary first, then the fallbacks in order
        self.max_retries, self.max_wait_s = max_retries, max_wait_s
        self.counts_tokens = any(pace.counts_tokens for pace in paces.values())

    def _cost(self, system_instructions: str | None, input: Any, tools: list[Tool]) -> int:
        if not self.counts_tokens:
            return 0
        chars = len(system_instructions or "") + len(json.dumps(input, default=str))
        chars += sum(len(json.dumps(getattr(tool, "params_json_schema", {}))) for tool in tools)
        return chars // 4 + 1  # about four characters a token: the quota counts input tokens

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> ModelResponse:
        call = _Call(self, self._cost(system_instructions, input, tools))
        while True:
            model, grant = await call.admit()
            await call.sent()
            try:
                response = await model.get_response(
                    system_instructions,
                    input,
                    model_settings,
                    tools,
                    output_schema,
                    handoffs,
                    tracing,
                    previous_response_id=previous_response_id,
                    conversation_id=conversation_id,
                    prompt=prompt,
                )
            except Exception as exc:
                await call.failed(grant, exc)
                continue
            await call.succeeded(grant)
            return response

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        call = _Call(self, self._cost(system_instructions, input, tools))
        while True:
            model, grant = await call.admit()
            await call.sent()
            started = False
            try:
                async for event in model.stream_response(
                    system_instructions,
                    input,
                    model_settings,
                    tools,
                    output_schema,
                    handoffs,
                    tracing,
                    previous_response_id=previous_response_id,
                    conversation_id=conversation_id,
                    prompt=prompt,
                ):
                    started = True
                    yield event
            except Exception as exc:
                if started:  # part of the answer is out (deltas relayed): a retry would repeat it
                    if _server_trouble(exc):
                        await call.pace.failed(grant.member)
                    raise
                await call.failed(grant, exc)
                continue
            await call.succeeded(grant)
            return

    async def close(self) -> None:
        for model in self.models.values():
            await model.close()
        if self.client is not None:  # the models' shared client (worker/chat_client.py)
            await self.client.close()
