"""Translates one run's events (the chat endpoint's SSE events: `tool_call`, `tool_result`, `delta`,
`done`, `error`) into ChatKit stream events.

Tool calls become the tasks of a workflow item, shown as they start and finish; once the answer's text
streams, later tool calls become progress updates. The answer streams under a provisional item id (its
row does not exist until the worker writes it); at `done` that item is removed and the stored message,
with its real `msg_{id}`, takes its place, so the live thread and a reloaded one have the same ids.
"""

import json
from datetime import datetime
from typing import Any

from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    CustomSummary,
    CustomTask,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

from api.chatkit.store import item_id

ICONS = {
    "add_task": "plus",
    "list_tasks": "notebook",
    "complete_task": "check-circle",
    "delete_task": "lucide:trash-2",
    "update_task": "write",
}
VERBS = {
    "add_task": "Added",
    "complete_task": "Completed",
    "delete_task": "Deleted",
    "update_task": "Updated",
}


def describe_call(arguments: Any) -> str:
    if isinstance(arguments, dict):
        return ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return str(arguments)


def describe_result(name: str, result: Any) -> str:
    """What the tool did, in words: `Added “Buy milk” (task 3)`, `2 tasks: …`, or the error."""
    if isinstance(result, dict) and isinstance(result.get("tasks"), list):
        titles = [str(t.get("title")) for t in result["tasks"] if isinstance(t, dict)]
        listed = ", ".join(f"“{t}”" for t in titles[:5]) + (" …" if len(titles) > 5 else "")
        return f"{len(titles)} task{'' if len(titles) == 1 else 's'}" + (f": {listed}" if titles else "")
    if isinstance(result, dict) and "title" in result:
        return f"{VERBS.get(name, 'Done')} “{result['title']}” (task {result.get('id')})"
    return str(result)[:300]


class RunEventTranslator:
    def __init__(self, thread_id: str, *, answer_id: str, workflow_id: str) -> None:
        self.thread_id, self.answer_id, self.workflow_id = thread_id, answer_id, workflow_id
        self.workflow: WorkflowItem | None = None
        self.workflow_done = False
        self.task_index: dict[str, int] = {}
        self.answering = False

    def feed(self, name: str, data: dict[str, Any]) -> list[ThreadStreamEvent]:
        if name == "tool_call":
            return self._tool_call(data)
        if name == "tool_result":
            return self._tool_result(data)
        if name == "delta":
            return [*self._close_workflow(), *self._start_answer(), self._delta(data.get("text", ""))]
        if name == "done":
            return [*self._close_workflow(), *self._finish(data)]
        if name == "status" and data.get("state") == "waiting":  # the model's quota: the user waits
            return [
                ProgressUpdateEvent(
                    icon="clock", text=str(data.get("message") or "Waiting for the AI model…")
                )
            ]
        if name == "error":
            # run_failed: the user may retry; timeout: the run goes on and its answer lands in the thread.
            retry = data.get("code") == "run_failed"
            raise CustomStreamError(str(data.get("message") or "The answer failed."), allow_retry=retry)
        return []  # `run`, `status: working`: nothing to show

    def _tool_call(self, data: dict[str, Any]) -> list[ThreadStreamEvent]:
        name = str(data.get("name", ""))
        task = CustomTask(
            title=name,
            icon=ICONS.get(name, "bolt"),
            content=describe_call(data.get("arguments")),
            status_indicator="loading",
        )
        if self.answering or self.workflow_done:
            return [ProgressUpdateEvent(icon=ICONS.get(name, "bolt"), text=f"{name}: {task.content}")]
        self.task_index[str(data.get("call_id"))] = len(self.workflow.workflow.tasks) if self.workflow else 0
        if self.workflow is None:
            self.workflow = WorkflowItem(
                id=self.workflow_id,
                thread_id=self.thread_id,
                created_at=datetime.now(),
                workflow=Workflow(type="custom", tasks=[task], expanded=True),
            )
            return [ThreadItemAddedEvent(item=self.workflow.model_copy(deep=True))]
        self.workflow.workflow.tasks.append(task)
        index = len(self.workflow.workflow.tasks) - 1
        return [
            ThreadItemUpdatedEvent(
                item_id=self.workflow_id, update=WorkflowTaskAdded(task_index=index, task=task)
            )
        ]

    def _tool_result(self, data: dict[str, Any]) -> list[ThreadStreamEvent]:
        name = str(data.get("name", ""))
        outcome = describe_result(name, data.get("result"))
        index = self.task_index.get(str(data.get("call_id")))
        if self.workflow is None or self.workflow_done or index is None:
            return [ProgressUpdateEvent(icon=ICONS.get(name, "bolt"), text=f"{name}: {outcome}")]
        task = CustomTask(
            title=name, icon=ICONS.get(name, "bolt"), content=outcome, status_indicator="complete"
        )
        self.workflow.workflow.tasks[index] = task
        return [
            ThreadItemUpdatedEvent(
                item_id=self.workflow_id, update=WorkflowTaskUpdated(task_index=index, task=task)
            )
        ]

    def _close_workflow(self) -> list[ThreadStreamEvent]:
        if self.workflow is None or self.workflow_done:
            return []
        self.workflow_done = True
        count = len(self.workflow.workflow.tasks)
        self.workflow.workflow.summary = CustomSummary(title=f"Used {count} tool{'' if count == 1 else 's'}")
        return [ThreadItemDoneEvent(item=self.workflow.model_copy(deep=True))]

    def _start_answer(self) -> list[ThreadStreamEvent]:
        if self.answering:
            return []
        self.answering = True
        item = AssistantMessageItem(
            id=self.answer_id, thread_id=self.thread_id, created_at=datetime.now(), content=[]
        )
        return [
            ThreadItemAddedEvent(item=item),
            ThreadItemUpdatedEvent(
                item_id=self.answer_id,
                update=AssistantMessageContentPartAdded(
                    content_index=0, content=AssistantMessageContent(text="")
                ),
            ),
        ]

    def _delta(self, text: str) -> ThreadStreamEvent:
        update = AssistantMessageContentPartTextDelta(content_index=0, delta=text)
        return ThreadItemUpdatedEvent(item_id=self.answer_id, update=update)

    def _finish(self, result: dict[str, Any]) -> list[ThreadStreamEvent]:
        answer = AssistantMessageItem(
            id=item_id(int(result["message_id"])),
            thread_id=self.thread_id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=str(result.get("response", "")))],
        )
        removed: list[ThreadStreamEvent] = (
            [ThreadItemRemovedEvent(item_id=self.answer_id)] if self.answering else []
        )
        return [*removed, ThreadItemDoneEvent(item=answer)]
