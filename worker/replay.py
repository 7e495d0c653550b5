"""A retried run replays what its earlier attempts did; it does not ask the model again.

Every model response that asks for tool calls is written to `modelstep` (run, step number, the output
items) before the SDK runs those calls. A retried run (its worker died, its lease lapsed) gets the
recorded responses back, in order, instead of asking the model; the SDK then makes the same calls, with
the same arguments and call ids, so the tool ledger (`mcp_tools.ledger`) answers each call that already
ran with its recorded result rather than a second effect, and calls the dead attempt never made run now.
From the first step that was not recorded on, the model answers. Before this, a retry asked the model
afresh and counted on it repeating itself word for word: "Buy Milk" instead of "Buy milk" was a second
task.

A response without tool calls ends the run and changes nothing, so it is not recorded: a retry that comes
after it asks the model for the answer once more (an INSERT fewer per run). The statement that finishes a
run deletes its steps (`worker.run`): the table holds the steps of unfinished runs only.
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
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert

from common.db import Database
from common.models import ModelStep
from worker.stream_events import response_events

_ITEMS: TypeAdapter[list[ResponseOutputItem]] = TypeAdapter(list[ResponseOutputItem])

_STEPS = (
    select(ModelStep.step, ModelStep.output)
    .where(ModelStep.run_id == bindparam("run_id"))
    .order_by(ModelStep.step)  # type: ignore[arg-type]
)
_STEP = select(ModelStep.output).where(
    ModelStep.run_id == bindparam("run_id"), ModelStep.step == bindparam("step")
)
# The step is committed without waiting for its WAL flush (`synchronous_commit` off for this one
# statement's transaction; a flush costs milliseconds on many disks). That is safe: the row is visible at
# once, and the first effect of its tool calls commits synchronously, which flushes the WAL up to and
# including this record. A database crash before then loses the step but no effect with it, and the
# retry asks the model again, as it would without a record.
_RECORD = (
    insert(ModelStep)
    .from_select(
        ["run_id", "step", "output", "created_at"],
        select(
            bindparam("p_run_id", type_=Integer),
            bindparam("p_step", type_=Integer),
            bindparam("p_output", type_=JSONB),
            func.now(),
        ).where(func.set_config("synchronous_commit", "off", True) == "off"),
    )
    .on_conflict_do_nothing(index_elements=["run_id", "step"])
    .returning(ModelStep.step)
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
    there is one (and no step before it was asked of the model), else the model's answer, recorded
    before it is returned when it asks for tool calls."""

    def __init__(self, inner: Model, db: Database, *, run_id: int, recorded: dict[int, list[Any]]) -> None:
        self.inner, self.db, self.run_id = inner, db, run_id
        self.recorded = recorded
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

    async def _record(self, output: list[Any]) -> list[Any]:
        """Records the step if it asks for tool calls; the output to go on with. If another attempt of
        the run (one whose lease lapsed while it still worked) recorded this step first, its output: both
        then make the same calls, and the ledger keeps them single."""
        step = self.step
        self.step += 1
        if not any(getattr(item, "type", None) == "function_call" for item in output):
            return output
        params = {"p_run_id": self.run_id, "p_step": step, "p_output": dump(output)}
        if await self.db.one(_RECORD, params) is not None:
            return output
        first = await self.db.scalar(_STEP, {"run_id": self.run_id, "step": step})
        return output if first is None else load(first)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        output = self._replay()
        if output is not None:
            return ModelResponse(output=output, usage=Usage(), response_id=None)  # no request was made
        response = await self.inner.get_response(*args, **kwargs)
        response.output = await self._record(response.output)
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
                # Recorded before the runner sees the end of the response, so before it runs the calls.
                streamed = event.response.output or done
                output = await self._record(streamed)
                if output is not streamed:
                    event = event.model_copy(
                        update={"response": event.response.model_copy(update={"output": output})}
                    )
            yield event
