"""What the language modules produce: intents with their slots, and references to tasks."""

from dataclasses import dataclass, field
from typing import Any

# How a request is meant, besides what it asks for. Only a plain request (no mood) changes tasks.
ASK = "ask"  # a question about it: "did I call mom?", "is the report done?" -> look, never change
SUGGEST = "suggest"  # a hedge: "should I delete the milk task?", "maybe cancel the dentist?" -> offer
SUPPOSE = "suppose"  # a hypothetical: "what would happen if I deleted X?" -> explain
REFUSE = "refuse"  # a negation: "don't delete the milk task", "no need to add bread" -> do nothing


@dataclass
class Ref:
    """A reference to tasks: by id, by position in the last list, by pronoun, or by title words."""

    task_id: int | None = None
    ordinal: int | None = None
    pronoun: bool = False  # "it", "that one": the task the conversation last touched
    plural: bool = False  # "them", "both": the tasks the conversation last showed or touched
    newest: bool = False  # "the last task I added"
    query: str = ""

    @property
    def empty(self) -> bool:
        return self == Ref()


@dataclass
class Intent:
    # add | list | show | complete | delete | update | reschedule | remind | reopen | complete_all
    # | delete_all | undo | reminders | help | chat
    kind: str
    title: str | None = None
    description: str | None = None
    when: str | None = None  # a due date in the user's words ("Friday"); "" removes it
    priority: str | None = None  # low | normal | high | urgent
    tags: list[str] | None = None
    tag_mode: str = "add"  # what `tags` do to a task's tags: add | remove | set
    filters: dict[str, Any] = field(default_factory=dict)  # a listing's: period, overdue, priority, tag, sort
    remind: str | None = None  # when to remind, in the user's words ("at 5pm"); "" cancels the reminder
    remind_before: int | None = None  # minutes before the due time
    repeat: str | None = None  # an RRULE body; "" stops repeating
    status: str = "all"
    ref: Ref = field(default_factory=Ref)
    keep: list[Ref] = field(default_factory=list)  # "all … except the first one"
    guessed: bool = False  # read from a bare phrase ("call dad"): may instead answer a question back
    mood: str = ""  # ASK, SUGGEST, SUPPOSE or REFUSE; "" for a plain request
    confirmed: bool = False  # the user said yes to doing exactly this (bulk changes wait for it)

    @property
    def changes(self) -> bool:
        return self.kind in MUTATING


MUTATING = {
    "add",
    "complete",
    "delete",
    "update",
    "reschedule",
    "reopen",
    "complete_all",
    "delete_all",
    "undo",
}
