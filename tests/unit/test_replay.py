"""A recorded model step comes back as the items it was: what Gemini needs to accept them again."""

import json

from agents.models.chatcmpl_converter import Converter
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from worker.replay import dump, load


def _call() -> ResponseFunctionToolCall:
    call = ResponseFunctionToolCall(
        id="fc_1", call_id="function-call-1", type="function_call", name="add_task",
        arguments='{"title": "Buy milk"}', status="completed",
    )  # fmt: skip
    # What the SDK's Chat Completions model keeps of Gemini's `extra_content` (set as an attribute).
    call.provider_data = {"thought_signature": "sig-1", "model": "gemini-2.5-flash"}  # type: ignore[attr-defined]
    return call


def test_output_items_survive_the_round_trip_through_json() -> None:
    message = ResponseOutputMessage(
        id="msg_1", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text="Adding it.", annotations=[])],
    )  # fmt: skip
    stored = json.loads(json.dumps(dump([message, _call()])))  # as JSONB gives it back
    back = load(stored)
    assert back == [message, _call()]
    assert back[1].provider_data == {"thought_signature": "sig-1", "model": "gemini-2.5-flash"}  # type: ignore[union-attr]
    assert "async_" not in stored[1]  # by alias: no Python-only names come back as extra fields


def test_a_replayed_call_carries_its_thought_signature_back_to_gemini() -> None:
    (back,) = load(dump([_call()]))
    messages = Converter.items_to_messages([back.model_dump(exclude_unset=True)], model="gemini-2.5-flash")  # type: ignore[arg-type]
    (tool_call,) = messages[0]["tool_calls"]  # type: ignore[typeddict-item]
    assert tool_call["extra_content"] == {"google": {"thought_signature": "sig-1"}}
    assert (tool_call["id"], tool_call["function"]["arguments"]) == (
        "function-call-1",
        '{"title": "Buy milk"}',
    )
