"""The offline model behind the Agents SDK's `Model` interface.

It is stateless: every call re-reads the input (history + the current turn's tool calls and outputs)
and decides the next step: look the tasks up, make the changes, or answer.
"""

import asyncio
import copy
import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from worker.offline.intents import Intent, Ref
from worker.offline.language import understand
from worker.offline.references import parse_ref
from worker.offline.resolve import ConversationContext, by_title, match, resolve
from worker.offline.text import Text, clean, strip_polite

OutputItem = ResponseFunctionToolCall | ResponseOutputMessage
ACTION_TOOL = {"complete": "complete_task", "delete": "delete_task", "update": "update_task"}
Call = tuple[str, dict[str, Any], Any]  # tool name, arguments, result (a dict, or an error's text)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _parse_output(output: Any) -> Any:
    text = _text(output)
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text  # a tool error's message


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(item.get("arguments") or "{}")
    except ValueError:
        return {}


class Turn:
    """The input split into the earlier conversation and the current turn's message and tool calls."""

    def __init__(self, items: list[Any]) -> None:
        items = [i if isinstance(i, dict) else i.model_dump() for i in items]
        start = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
        self.message = _text(items[start].get("content")) if start >= 0 else ""
        turns: list[dict[str, Any]] = []
        calls: dict[str, list[Any]] = {}
        order: list[list[Any]] = []
        for n, item in enumerate(items):
            if n == start:
                turns.append({"user": self.message, "answer": "", "calls": []})
                order = []
                continue
            if item.get("role") == "user":
                turns.append({"user": _text(item.get("content")), "answer": "", "calls": []})
                order = []
            elif item.get("role") == "assistant" and turns:
                turns[-1]["answer"] = _text(item.get("content"))
            elif item.get("type") == "function_call":
                entry = [item["name"], _arguments(item), None]
                calls[item["call_id"]] = entry
                order.append(entry)
                if turns:
                    turns[-1]["calls"] = order
            elif item.get("type") == "function_call_output" and item.get("call_id") in calls:
                calls[item["call_id"]][2] = _parse_output(item.get("output"))
        current = turns.pop() if turns and start >= 0 else {"calls": []}
        self.calls: list[Call] = [tuple(c) for c in current["calls"]]  # type: ignore[misc]
        self.context = ConversationContext.from_turns(
            [{**t, "calls": [tuple(c) for c in t["calls"]]} for t in turns]
        )


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


# --------------------------------------------------------------------------------------------
# Understanding the message in its conversation


def interpret(message: str, context: ConversationContext) -> list[Intent]:
    intents = understand(message)
    answer = _answer_to_question(message, intents, context) or _answer_to_ask(message, intents, context)
    if answer:
        return answer
    # "add milk" … "and eggs": more of the same
    more = re.match(r"^\W*(?:and|also|plus|oh and|and also)\s+(.+)$", clean(message), re.I)
    adding = context.last_actions and all(name == "add_task" for name, _, _ in context.last_actions)
    if more and adding and all(i.kind == "chat" or i.guessed for i in intents):
        return understand("add " + more.group(1))
    return intents


def _answer_to_ask(message: str, intents: list[Intent], context: ConversationContext) -> list[Intent] | None:
    """After "what should the task say?" or "what should I change it to?", the reply is the text asked for."""
    if len(intents) != 1 or not (intents[0].kind == "chat" or intents[0].guessed):
        return None
    words = strip_polite(clean(message))
    words = re.sub(
        r"^(?:call it|name it|make it|rename it to|change it to|it should say|to)\s+", "", words, flags=re.I
    )
    if not words or replies.SMALL_TALK.match(words):
        return None
    text = Text(words)
    title = text.only_quote(text.masked) or words[:1].upper() + words[1:]
    if context.previous_answer == replies.ASK_TITLE:
        return [Intent("add", title=title)]
    earlier = understand(context.previous_user)
    if context.previous_answer == replies.ASK_CHANGE and len(earlier) == 1 and earlier[0].kind == "update":
        return [dataclasses.replace(earlier[0], title=title)]
    return None


def _answer_to_question(
    message: str, intents: list[Intent], context: ConversationContext
) -> list[Intent] | None:
    """After "Which one do you mean…?" or "I couldn't find…", a short reply names the task meant."""
    asked = context.previous_answer
    if not asked.startswith(replies.ASKING) and replies.NOT_FOUND_MARK not in asked:
        return None
    earlier = [i for i in understand(context.previous_user) if i.kind in (*ACTION_TOOL, "show")]
    if not earlier:
        return None
    only = intents[0] if len(intents) == 1 else None
    if only is None or re.match(
        r"^\W*(?:never ?mind|forget it|cancel|no|nope|nothing|neither|none|ok|okay|thanks?|thank you|stop)\b",
        message,
        re.I,
    ):
        return None
    if only.kind == "chat" or only.guessed:
        text = Text(message)
        ref = parse_ref(text, strip_polite(text.masked))
    elif (
        only.kind == "update"
        and only.title
        and only.ref.pronoun
        and re.match(r"^\W*(?:i\s+)?(?:meant|mean)\b", strip_polite(clean(message)), re.I)
    ):
        ref = Ref(query=only.title)
    else:
        return None
    candidates = replies.parse_candidates(asked)
    if candidates:
        if ref.plural:
            chosen = candidates
        elif ref.ordinal is not None:
            index = ref.ordinal - 1 if ref.ordinal > 0 else ref.ordinal
            chosen = [candidates[index]] if -len(candidates) <= index < len(candidates) else []
        elif ref.query:
            chosen = by_title(ref.query, candidates).tasks
        else:
            chosen = []
        if chosen:
            return [dataclasses.replace(earlier[0], ref=Ref(task_id=t["id"])) for t in chosen]
    if ref.empty or ref.pronoun:
        return None
    return [dataclasses.replace(earlier[0], ref=ref)]


# --------------------------------------------------------------------------------------------
# Planning: which tool calls each intent needs, in steps


def _needs_tasks(intent: Intent, context: ConversationContext) -> bool:
    if intent.kind in ("list", "show", "complete_all", "delete_all"):
        return not (intent.kind in ("complete_all", "delete_all") and intent.ref.plural and context.group())
    if intent.kind in (*ACTION_TOOL, "reopen"):
        ref = intent.ref
        return bool(ref.query) or ref.newest or (ref.ordinal is not None and not context.group())
    return False


def _depends_on_this_turn(intent: Intent) -> bool:
    """In "add X and mark it done", "it" is X: wait for the earlier calls' results.

    Positions ("the second one") keep meaning the list the user saw, so they need not wait."""
    return intent.kind == "list" or intent.ref.pronoun or intent.ref.plural


@dataclass
class Step:
    calls: list[tuple[str, dict[str, Any]]]
    note: str = ""


def _plan(intent: Intent, tasks: list[dict[str, Any]] | None, context: ConversationContext) -> Step:
    tasks = tasks or []
    if intent.kind == "add":
        if not intent.title:
            return Step([], replies.ASK_TITLE)
        args: dict[str, Any] = {"title": intent.title}
        if intent.description:
            args["description"] = intent.description
        return Step([("add_task", args)])
    if intent.kind in ("complete_all", "delete_all"):
        return _plan_bulk(intent, tasks, context)
    if intent.kind == "undo":
        return _plan_undo(context)
    if intent.kind == "reopen":
        return Step([], replies.CANNOT_REOPEN)
    found = resolve(intent.ref, tasks=tasks, context=context, prefer_pending=intent.kind == "complete")
    if intent.kind == "show" and found.candidates:  # a search: every match
        found = dataclasses.replace(found, tasks=found.candidates, candidates=[])
    if not found.targets:
        if found.candidates:
            return Step([], replies.ambiguous(found.candidates))
        if intent.ref.query or intent.ref.ordinal is not None:
            return Step([], replies.not_found())
        return Step([], replies.unclear_reference())
    if intent.kind == "show":
        known = {t["id"]: t for t in tasks}
        return Step([], "\n".join(replies.details(known.get(i), i) for i in found.targets))
    steps = []
    for target in found.targets:
        args = {"task_id": target}
        if intent.kind == "update":
            if intent.title:
                old = next(
                    (t for t in [*found.tasks, *tasks] if t["id"] == target), None
                ) or context.snapshot.get(target)
                args["title"] = (
                    _patched_title(old["title"], intent.title) if old and intent.ref.pronoun else intent.title
                )
            if intent.description is not None:
                args["description"] = intent.description
            if len(args) == 1:
                return Step([], replies.ASK_CHANGE)
        steps.append((ACTION_TOOL[intent.kind], args))
    return Step(steps)


_WHEN = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tonight|tomorrow|"
    r"morning|afternoon|evening|weekend|next week|\d{1,2}(?::\d\d)?\s*(?:am|pm)|\d{1,2}:\d\d)\b",
    re.I,
)


def _patched_title(old: str, new: str) -> str:
    """'Book a table for Friday' + 'make it Saturday' -> 'Book a table for Saturday'."""
    new = re.sub(r"\s+instead$", "", new, flags=re.I)
    if len(new.split()) <= 2 and _WHEN.fullmatch(new.strip()) and len(_WHEN.findall(old)) == 1:
        return _WHEN.sub(new.strip(), old)
    return new


def _plan_bulk(intent: Intent, tasks: list[dict[str, Any]], context: ConversationContext) -> Step:
    pool = context.group() if intent.ref.plural else tasks
    if intent.ref.query:
        pool = [t for t in pool if match(intent.ref.query, t).score >= 0.5]
    for ref in intent.keep:
        spared = resolve(ref, tasks=tasks, context=context)
        if not spared.targets:  # unsure what to spare: better to ask than to change too much
            return Step(
                [], replies.ambiguous(spared.candidates) if spared.candidates else replies.not_found()
            )
        pool = [t for t in pool if t["id"] not in spared.targets]
    if intent.kind == "complete_all":
        todo = [t for t in pool if not t.get("completed")]
        if not todo:
            return Step([], replies.nothing_to_complete(bool(pool)))
        return Step([("complete_task", {"task_id": t["id"]}) for t in todo])
    doomed = [
        t for t in pool if intent.status == "all" or t.get("completed") == (intent.status == "completed")
    ]
    if not doomed:
        return Step([], replies.nothing_to_delete(intent.status))
    return Step([("delete_task", {"task_id": t["id"]}) for t in doomed])


def _plan_undo(context: ConversationContext) -> Step:
    calls: list[tuple[str, dict[str, Any]]] = []
    for name, _, result in context.last_actions:
        if not isinstance(result, dict):
            continue
        if name == "add_task":
            calls.append(("delete_task", {"task_id": result["id"]}))
        elif name == "delete_task":
            args = {"title": result["title"]}
            if result.get("description"):
                args["description"] = result["description"]
            calls.append(("add_task", args))
    return Step(calls, "" if calls else replies.CANNOT_UNDO)


def decide(items: list[Any]) -> list[OutputItem]:
    turn = Turn(items)
    intents = interpret(turn.message, turn.context)
    kinds = {i.kind for i in intents}
    if kinds == {"help"}:
        return [_message(replies.HELP)]
    if kinds <= {"chat", "help"}:
        return [_message(replies.chat(turn.message))]

    made = list(turn.calls)
    tasks: list[dict[str, Any]] | None = None
    lines: list[str] = []
    if any(_needs_tasks(i, turn.context) for i in intents):
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
        if pending and _depends_on_this_turn(intent):
            break  # needs the results of the calls still to make
        if intent.kind == "list":
            if tasks is not None and not changed and not pending:
                shown = [
                    t
                    for t in tasks
                    if intent.status == "all" or t["completed"] == (intent.status == "completed")
                ]
                lines.append(replies.task_list(shown, intent.status))
                context.add_turn([("list_tasks", {}, {"tasks": shown})])
                continue
            step = Step([("list_tasks", {"status": intent.status})])
        else:
            # positions point into the list as the user saw it, before this message changed anything
            step = _plan(intent, tasks, turn.context if intent.ref.ordinal is not None else context)
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
                replies.task_list(shown, intent.status)
                if isinstance(result, dict)
                else replies.failed_line(*done[0])
            )
        else:
            lines.append(replies.outcome(intent.kind, done))
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
