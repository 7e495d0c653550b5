"""The offline model behind the Agents SDK's `Model` interface.

It is stateless: every call re-reads the input (history + the current turn's tool calls and outputs)
and decides the next step: look the tasks up, make the changes, or answer.
"""

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agents import Model, ModelResponse, Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from worker.offline import replies
from worker.offline.arguments import Question, list_arguments, listed
from worker.offline.conversation import Call, Turn
from worker.offline.dialogue import interpret
from worker.offline.planning import Step, depends_on_this_turn, needs_tasks, plan
from worker.stream_events import response_events

OutputItem = ResponseFunctionToolCall | ResponseOutputMessage


def _call(name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
    call_id = f"call_{uuid.uuid4().hex[:16]}"
    return ResponseFunctionToolCall(
        id=f"fc_{call_id}",
        call_id=call_id,
        type="function_call",
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False),
        status="completed",
    )


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=f"msg_{uuid.uuid4().hex[:16]}",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def decide(items: list[Any], instructions: Any = None) -> list[OutputItem]:
    """The next step: tool calls to make, or the answer. `instructions` carry "now" and the user's zone."""
    turn = Turn(items, instructions)
    intents = interpret(turn.message, turn.context)
    kinds = {i.kind for i in intents}
    if kinds == {"help"}:
        return [_message(replies.HELP)]
    if kinds <= {"chat", "help"} and not any(i.mood for i in intents):
        return [_message(replies.chat(turn.message))]

    made = list(turn.calls)
    now = turn.context.now
    tasks: list[dict[str, Any]] | None = None
    lines: list[str] = []
    if any(needs_tasks(i, turn.context) for i in intents):
        if not made:
            status = intents[0].status if len(intents) == 1 and intents[0].kind == "list" else "all"
            return [_call("list_tasks", {"status": status})]
        _, _, listing = made.pop(0)
        if isinstance(listing, dict):
            tasks = listing.get("tasks", [])
        else:
            return [_message(replies.failed_line("list_tasks", {}, str(listing)))]

    context = copy.deepcopy(turn.context)
    pending: list[tuple[str, dict[str, Any]]] = []
    changed = False
    for intent in intents:
        if pending and depends_on_this_turn(intent):
            break  # needs the results of the calls still to make
        if intent.kind == "list":
            if tasks is not None and not changed and not pending:
                shown = listed(tasks, intent, now)
                lines.append(replies.task_list(shown, intent, now))
                context.add_turn([("list_tasks", {}, {"tasks": shown})])
                continue
            try:
                step = Step([("list_tasks", list_arguments(intent, now))])
            except Question as question:
                step = Step([], question.reply)
        else:
            # positions point into the list as the user saw it, before this message changed anything
            step = plan(intent, tasks, turn.context if intent.ref.ordinal is not None else context)
        if not step.calls:
            lines.append(step.note)
            continue
        if pending or len(made) < len(step.calls):
            pending += step.calls
            continue
        done, made = made[: len(step.calls)], made[len(step.calls) :]
        if intent.kind == "list":
            result = done[0][2]
            shown = result.get("tasks", []) if isinstance(result, dict) else []
            lines.append(
                replies.task_list(listed(shown, intent, now), intent, now)
                if isinstance(result, dict)
                else replies.failed_line(*done[0])
            )
        else:
            lines.append(replies.outcome(intent.kind, done, now))
            changed = True
        context.add_turn(done)
        tasks = _apply(tasks, done)
    if pending:
        return [_call(name, args) for name, args in pending]
    return [_message("\n".join(line for line in lines if line) or "Done.")]


def _apply(tasks: list[dict[str, Any]] | None, done: list[Call]) -> list[dict[str, Any]] | None:
    """The task list after this turn's changes, so that later requests in the message see them."""
    if tasks is None:
        return None
    tasks = list(tasks)
    for name, _, result in done:
        if not isinstance(result, dict) or "id" not in result:
            continue
        tasks = [t for t in tasks if t["id"] != result["id"]]
        if name != "delete_task":
            tasks.append(result)
    return tasks


def _usage() -> ResponseUsage:
    return ResponseUsage(
        input_tokens=0,
        output_tokens=0,
        total_tokens=0,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )


class OfflineModel(Model):
    def __init__(self, *, delay_s: float = 0.0) -> None:
        # Simulated thinking time per model call, streamed out gradually (demos and benchmarks).
        self.delay_s = delay_s

    async def get_response(
        self,
        system_instructions: Any,
        input: Any,
        model_settings: Any,
        tools: Any,
        output_schema: Any,
        handoffs: Any,
        tracing: Any,
        *,
        previous_response_id: Any = None,
        conversation_id: Any = None,
        prompt: Any = None,
        **_: Any,
    ) -> ModelResponse:
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return ModelResponse(
            output=decide(items, system_instructions), usage=Usage(requests=1), response_id=None
        )

    async def stream_response(
        self,
        system_instructions: Any,
        input: Any,
        model_settings: Any,
        tools: Any,
        output_schema: Any,
        handoffs: Any,
        tracing: Any,
        *,
        previous_response_id: Any = None,
        conversation_id: Any = None,
        prompt: Any = None,
        **_: Any,
    ) -> AsyncIterator[Any]:
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        output = decide(items, system_instructions)
        texts = [item.content[0].text for item in output if isinstance(item, ResponseOutputMessage)]  # type: ignore[union-attr]
        pause = self.delay_s / (1 + sum(len(_pieces(text)) for text in texts))
        for event in response_events(output, model="offline", pieces=_pieces, usage=_usage()):
            if pause and event.type == "response.output_text.delta":
                await asyncio.sleep(pause)
            yield event
            if pause and event.type == "response.created":
                await asyncio.sleep(pause)


def _pieces(text: str, size: int = 24) -> list[str]:
    """Stream in word-aligned chunks, as a real model does."""
    out, current = [], ""
    for word in text.split(" "):
        current = f"{current} {word}" if current else word
        if len(current) >= size:
            out.append(current + " ")
            current = ""
    if current:
        out.append(current)
    else:
        out[-1] = out[-1].rstrip(" ")
    return out
