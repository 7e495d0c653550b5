"""A finished response as the stream of events a live one sends (created, each item added, its text in
deltas, done, completed): for models that have the whole answer at once (the offline model, a replayed
step) and still serve `Runner.run_streamed`."""

import uuid
from collections.abc import Callable, Iterator

from agents.items import TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseOutputItem,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)


def _whole(text: str) -> list[str]:
    return [text]


def response_events(
    output: list[ResponseOutputItem],
    *,
    model: str,
    pieces: Callable[[str], list[str]] = _whole,
    usage: ResponseUsage | None = None,
) -> Iterator[TResponseStreamEvent]:
    """`pieces` splits a text part into its deltas (default: one delta)."""
    response = Response(
        id=f"resp_{model}_{uuid.uuid4().hex[:12]}",
        created_at=0,
        model=model,
        object="response",
        output=[],
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=True,
        status="in_progress",
    )
    seq = 0
    yield ResponseCreatedEvent(type="response.created", response=response, sequence_number=seq)
    for index, item in enumerate(output):
        seq += 1
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added", item=item, output_index=index, sequence_number=seq
        )
        if isinstance(item, ResponseOutputMessage):
            for part_index, part in enumerate(item.content):
                if not isinstance(part, ResponseOutputText) or not part.text:
                    continue
                for piece in pieces(part.text):
                    seq += 1
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id=item.id,
                        output_index=index,
                        content_index=part_index,
                        delta=piece,
                        logprobs=[],
                        sequence_number=seq,
                    )
        seq += 1
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done", item=item, output_index=index, sequence_number=seq
        )
    completed = response.model_copy(update={"output": output, "status": "completed", "usage": usage})
    yield ResponseCompletedEvent(type="response.completed", response=completed, sequence_number=seq + 1)
