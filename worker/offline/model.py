"""The offline model behind the Agents SDK's `Model` interface.

It is stateless: every call re-reads the input (history + the current turn's tool calls and outputs)
and decides the next step: look the tasks up, make the changes, or answer.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agents import Model, ModelResponse, Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from worker.offline import replies
from worker.offline.language import Intent, understand
from worker.offline.resolve import ConversationContext, Resolution, resolve

OutputItem = ResponseFunctionToolCall | ResponseOutputMessage
ACTION_TOOL = {"complete": "complete_task", "delete": "delete_task", "update": "update_task"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _parse_output(output: Any) -> Any:
    text = _text(output) if not isinstance(output, str) else output
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text  # a tool error's message


class Turn:
    """The input split into earlier conversation and the current turn."""

    def __init__(self, items: list[Any]) -> None:
        items = [i if isinstance(i, dict) else i.model_dump() for i in items]
        start = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
        self.message = _text(items[start].get("content")) if start >= 0 else ""
        self.calls: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}
        earlier: list[tuple[str, Any]] = []
        names: dict[str, str] = {}
        for n, item in enumerate(items):
            kind = item.get("type")
            if kind == "function_call":
                names[item["call_id"]] = item["name"]
                if n > start:
                    self.calls.append(item)
            elif kind == "function_call_output":
                result = _parse_output(item.get("output"))
                if n > start:
                    self.results[item["call_id"]] = result
                else:
                    earlier.append((names.get(item["call_id"], ""), result))
        self.context = ConversationContext(earlier)

    def result_of(self, name: str) -> Any:
        for call in self.calls:
            if call["name"] == name and call["call_id"] in self.results:
                return self.results[call["call_id"]]
        return None


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


def _needs_tasks(intents: list[Intent]) -> bool:
    return any(
        i.kind in ("list", "complete_all", "delete_all") or (i.kind in ACTION_TOOL and i.ref.query)
        for i in intents
    )


def decide(items: list[Any]) -> list[OutputItem]:
    turn = Turn(items)
    intents = understand(turn.message)
    kinds = {i.kind for i in intents}
    if kinds & {"help"}:
        return [_message(replies.HELP)]
    if kinds <= {"chat"}:
        return [_message(replies.chat(turn.message))]

    listing = turn.result_of("list_tasks")
    if _needs_tasks(intents) and not any(c["name"] == "list_tasks" for c in turn.calls):
        status = intents[0].status if intents[0].kind == "list" else "all"
        return [_call("list_tasks", {"status": status})]

    actions_made = [c for c in turn.calls if c["name"] != "list_tasks"]
    if actions_made:
        return [_message(_report(turn, intents, listing))]

    tasks = listing.get("tasks", []) if isinstance(listing, dict) else []
    calls, notes = _plan_calls(intents, tasks, turn.context)
    if calls:
        return calls
    return [_message(_report(turn, intents, listing, notes))]


def _plan_calls(
    intents: list[Intent],
    tasks: list[dict[str, Any]],
    context: ConversationContext,
) -> tuple[list[OutputItem], list[str]]:
    calls: list[OutputItem] = []
    notes: list[str] = []
    for intent in intents:
        if intent.kind == "add" and intent.title:
            args: dict[str, Any] = {"title": intent.title}
            if intent.description:
                args["description"] = intent.description
            calls.append(_call("add_task", args))
        elif intent.kind == "complete_all":
            calls += [_call("complete_task", {"task_id": t["id"]}) for t in tasks if not t["completed"]]
            if not calls:
                notes.append("All your tasks are already done. 🎉" if tasks else "You have no tasks yet.")
        elif intent.kind == "delete_all":
            doomed = [t for t in tasks if intent.status == "all" or t["completed"]]
            calls += [_call("delete_task", {"task_id": t["id"]}) for t in doomed]
            if not doomed:
                notes.append(
                    "There are no completed tasks to delete."
                    if intent.status == "completed"
                    else "Your list is already empty."
                )
        elif intent.kind in ACTION_TOOL:
            found = resolve(intent.ref, tasks=tasks, context=context)
            target = found.task_id if found.task_id is not None else (found.task or {}).get("id")
            if target is None:
                notes.append(_unresolved(intent, found))
                continue
            args = {"task_id": target}
            if intent.kind == "update":
                if intent.title:
                    args["title"] = intent.title
                if intent.description is not None:
                    args["description"] = intent.description
            calls.append(_call(ACTION_TOOL[intent.kind], args))
    return calls, notes


def _unresolved(intent: Intent, found: Resolution) -> str:
    if found.candidates:
        return replies.ambiguous(found.candidates)
    if intent.ref.query:
        return replies.not_found(intent.ref.query)
    return replies.unclear_reference()


def _report(turn: Turn, intents: list[Intent], listing: Any, notes: list[str] | None = None) -> str:
    lines: list[str] = []
    for intent in intents:
        if intent.kind == "list":
            if isinstance(listing, dict):
                lines.append(replies.task_list(listing.get("tasks", []), intent.status))
            elif listing is not None:
                lines.append(replies.failed_line("list_tasks", str(listing)))
    for call in turn.calls:
        if call["name"] == "list_tasks":
            continue
        result = turn.results.get(call["call_id"])
        if isinstance(result, dict):
            lines.append(replies.done_line(call["name"], result))
        else:
            lines.append(replies.failed_line(call["name"], str(result)))
    lines += notes or []
    return "\n".join(lines) if lines else "Done."


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
        return ModelResponse(output=decide(items), usage=Usage(requests=1), response_id=None)

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
        output = decide(items)
        pieces = {
            i: _pieces(item.content[0].text)
            for i, item in enumerate(output)  # type: ignore[union-attr]
            if isinstance(item, ResponseOutputMessage)
        }
        pause = self.delay_s / (1 + sum(len(p) for p in pieces.values()))
        response = Response(
            id=f"resp_{uuid.uuid4().hex[:12]}",
            created_at=0,
            model="offline",
            object="response",
            output=[],
            tool_choice="auto",
            tools=[],
            parallel_tool_calls=True,
            status="in_progress",
        )
        seq = 0
        yield ResponseCreatedEvent(type="response.created", response=response, sequence_number=seq)
        if pause:
            await asyncio.sleep(pause)
        for index, item in enumerate(output):
            seq += 1
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added", item=item, output_index=index, sequence_number=seq
            )
            if isinstance(item, ResponseOutputMessage):
                for piece in pieces[index]:
                    if pause:
                        await asyncio.sleep(pause)
                    seq += 1
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                        sequence_number=seq,
                    )
            seq += 1
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done", item=item, output_index=index, sequence_number=seq
            )
        yield ResponseCompletedEvent(
            type="response.completed",
            sequence_number=seq + 1,
            response=response.model_copy(update={"output": output, "status": "completed", "usage": _usage()}),
        )


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
