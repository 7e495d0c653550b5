"""What the language modules produce: intents with their slots, and references to tasks."""

from dataclasses import dataclass, field


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
    # add | list | show | complete | delete | update | reopen | complete_all | delete_all | undo | help | chat
    kind: str
    title: str | None = None
    description: str | None = None
    status: str = "all"
    ref: Ref = field(default_factory=Ref)
    keep: list[Ref] = field(default_factory=list)  # "all … except the first one"
    guessed: bool = False  # read from a bare phrase ("call dad"): may instead answer a question back
