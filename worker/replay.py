"""A retried run replays what its earlier attempts did; it does not ask the model again.

Every model response that asks for tool calls (a step) is recorded in `modelstep` (run, step number, the
output items) by the statement that records the first effect coming from it: the step rides with the
run's next tool call (`mcp_tools.ledger`, `taskchat/steps`) and goes in with that call's ledger row. A
retried run (its worker died, its lease lapsed) gets the recorded responses back, in order, instead of
asking the model; the SDK then makes the same calls, with the same arguments and call ids, so the tool
ledger answers each call that already ran with its recorded result rather than a second effect, and
calls the dead attempt never made run now. From the first step that was not recorded on, the model
answers. Before this, a retry asked the model afresh and counted on it repeating itself word for word:
"Buy Milk" instead of "Buy milk" was a second task.

A step is recorded only with a ledger row: one whose calls never ran (the worker died first) changed
nothing, and a retry asks the model for it again; one whose calls all failed rides on with the run's next
call; a response without calls ends the run and is never recorded. No step costs a statement of its own.
Two attempts of one run at once (a lease lapsed while its worker still worked): the first to record a
step wins, and the other's call is refused (`StepConflict`), its effect rolled back. The statement that
finishes a run deletes its steps (`worker.run`): the table holds the steps of unfinished runs only.
"""

from collections.abc import AsyncIterator
from typing import Any

from agents import Model, ModelResponse, Usage
from agents.items import TResponseStreamEvent
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseOutputItem,
    ResponseOutputItemDoneEvent,
)
from pydantic import TypeAdapter
from sqlalchemy import bindparam, select

from common.db import Database
from common.models import ModelStep
from worker.stream_events import response_events

_ITEMS: TypeAdapter[list[ResponseOutputItem]] = TypeAdapter(list[ResponseOutputItem])

_STEPS = (
    select(ModelStep.step, ModelStep.output)
    .where(ModelStep.run_id == bindparam("run_id"))
    .order_by(ModelStep.step)  # type: ignore[arg-type]
)


async def recorded_steps(db: Database, run_id: int) -> dict[int, list[Any]]:
    """The steps earlier attempts of the run recorded: step number -> output items (JSON)."""
    return {row["step"]: row["output"] for row in await db.all(_STEPS, {"run_id": run_id})}


def dump(output: list[Any]) -> list[Any]:
    # By alias: a function call's `async` field is `async_` in Python, and would come back as an extra.
    return [item.model_dump(mode="json", by_alias=True, exclude_unset=True) for item in output]


def load(output: list[Any]) -> list[ResponseOutputItem]:
    return _ITEMS.validate_python(output)


class ReplayModel(Model):
    """The process's model, wrapped for one attempt of one run: step n is the recorded response n if
    there is one (and no step before it was asked of the model), else the model's answer, which joins
    `unrecorded` (for the run's next tool call to record) when it asks for tool calls."""

    def __init__(
        self, inner: Model, *, recorded: dict[int, list[Any]], unrecorded: list[dict[str, Any]]
    ) -> None:
        self.inner = inner
        self.recorded, self.unrecorded = recorded, unrecorded
        self.step = 0
        self.replayed = 0

    def _replay(self) -> list[ResponseOutputItem] | None:
        output = self.recorded.pop(self.step, None)
        if output is None:
            self.recorded.clear()  # the model answers from here on: later records belong to another path
            return None
        self.step += 1
        self.replayed += 1
        return load(output)

    def _note(self, output: list[Any]) -> None:
        """Numbers the step, and keeps it for the run's next tool call to record if it asks for calls."""
        if any(getattr(item, "type", None) == "function_call" for item in output):
            self.unrecorded.append({"step": self.step, "output": dump(output)})
        self.step += 1

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        output = self._replay()
        if output is not None:
            return ModelResponse(output=output, usage=Usage(), response_id=None)  # no request was made
        response = await self.inner.get_response(*args, **kwargs)
        self._note(response.output)
        return response

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        output = self._replay()
        if output is not None:
            for event in response_events(output, model="replay"):
                yield event
            return
        done: list[Any] = []
        async for event in self.inner.stream_response(*args, **kwargs):
            if isinstance(event, ResponseOutputItemDoneEvent):
                done.append(event.item)
            elif isinstance(event, ResponseCompletedEvent):
                # Noted before the runner sees the end of the response, so before it runs the calls.
                self._note(event.response.output or done)
            yield event
