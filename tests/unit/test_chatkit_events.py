"""Run events → ChatKit events, and ChatKit ids, without I/O."""

import pytest
from chatkit.errors import CustomStreamError
from chatkit.store import NotFoundError

from api.chatkit.events import RunEventTranslator, describe_result
from api.chatkit.route import chatkit_operation
from api.chatkit.store import parse_id


def kinds(events) -> list[str]:
    return [e.type if e.type != "thread.item.updated" else e.update.type for e in events]


class TestTranslator:
    def test_tools_then_text_then_the_stored_answer(self) -> None:
        t = RunEventTranslator("thr_1", answer_id="msg_90", workflow_id="wf_7")
        call = t.feed("tool_call", {"call_id": "c1", "name": "add_task", "arguments": {"title": "Buy milk"}})
        assert (
            kinds(call) == ["thread.item.added"]
            and call[0].item.workflow.tasks[0].status_indicator == "loading"
        )
        result = {"id": 3, "title": "Buy milk", "completed": False}
        assert kinds(t.feed("tool_result", {"call_id": "c1", "name": "add_task", "result": result})) == [
            "workflow.task.updated"
        ]
        assert kinds(t.feed("tool_call", {"call_id": "c2", "name": "list_tasks", "arguments": {}})) == [
            "workflow.task.added"
        ]
        done = t.feed("tool_result", {"call_id": "c2", "name": "list_tasks", "result": {"tasks": [result]}})
        assert done[0].update.task_index == 1 and done[0].update.task.content == "1 task: “Buy milk”"
        first = t.feed("delta", {"text": "Added "})
        assert kinds(first) == [
            "thread.item.done",
            "thread.item.added",
            "assistant_message.content_part.added",
            "assistant_message.content_part.text_delta",
        ]
        assert first[0].item.workflow.summary.title == "Used 2 tools"
        assert {first[1].item.id, first[2].item_id, first[3].item_id} == {"msg_90"}
        assert kinds(t.feed("delta", {"text": "it."})) == ["assistant_message.content_part.text_delta"]
        late = t.feed("tool_call", {"call_id": "c3", "name": "list_tasks", "arguments": {}})
        assert kinds(late) == ["progress_update"]
        end = t.feed("done", {"message_id": 91, "response": "Added it."})
        assert kinds(end) == ["thread.item.removed", "thread.item.done"]
        assert end[0].item_id == "msg_90" and end[1].item.id == "msg_91"
        assert end[1].item.content[0].text == "Added it."

    def test_an_answer_without_text_or_tools_is_just_the_stored_message(self) -> None:
        t = RunEventTranslator("thr_1", answer_id="msg_90", workflow_id="wf_7")
        assert t.feed("run", {"run_id": 7}) == []
        assert kinds(t.feed("done", {"message_id": 91, "response": ""})) == ["thread.item.done"]

    def test_a_wait_for_the_model_is_a_progress_update(self) -> None:
        t = RunEventTranslator("thr_1", answer_id="msg_90", workflow_id="wf_7")
        message = "Waiting for the AI model: other requests are ahead of yours in its quota (about 4 s)…"
        waiting = t.feed("status", {"state": "waiting", "reason": "pace", "wait_s": 4.2, "message": message})
        assert kinds(waiting) == ["progress_update"]
        assert (waiting[0].icon, waiting[0].text) == ("clock", message)
        assert t.feed("status", {"state": "working"}) == []

    @pytest.mark.parametrize(("code", "retry"), [("run_failed", True), ("timeout", False)])
    def test_errors_raise_a_custom_stream_error(self, code, retry) -> None:
        t = RunEventTranslator("thr_1", answer_id="msg_90", workflow_id="wf_7")
        with pytest.raises(CustomStreamError) as caught:
            t.feed("error", {"code": code, "message": "The model is busy."})
        assert (caught.value.message, caught.value.allow_retry) == ("The model is busy.", retry)

    def test_results_in_words(self) -> None:
        assert (
            describe_result("complete_task", {"id": 4, "title": "Call mom"})
            == "Completed “Call mom” (task 4)"
        )
        assert describe_result("list_tasks", {"tasks": []}) == "0 tasks"
        assert describe_result("delete_task", "Task 42 not found") == "Task 42 not found"


class TestIds:
    def test_strict_parsing(self) -> None:
        assert parse_id("thr_42", "thr") == 42 and parse_id("msg_2147483647", "msg") == 2147483647
        for bad in (
            "thr_0042",
            "thr_0",
            "thr_-1",
            "thr_abc",
            "msg_1",
            "thr_2147483648",
            " thr_1",
            "thr_1\n",
            "",
            None,
        ):
            with pytest.raises(NotFoundError):
                parse_id(bad, "thr")

    def test_only_chatkit_operations_are_diverted(self) -> None:
        assert chatkit_operation(b'{"type": "threads.list", "params": {}}') == "threads.list"
        assert chatkit_operation(b'{"message": "hi"}') is None
        assert chatkit_operation(b'{"message": "hi", "type": "note"}') is None
        assert chatkit_operation(b'["type"]') is None and chatkit_operation(b'{"type" broken') is None
