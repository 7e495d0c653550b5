import pytest

from worker.offline.language import understand
from worker.offline.resolve import by_title


class TestUnderstand:
    @pytest.mark.parametrize(
        ("message", "titles"),
        [
            ("Add a task to buy groceries", ["Buy groceries"]),
            ("Remind me to call mom", ["Call mom"]),
            ("new todo: water the plants", ["Water the plants"]),
            ("can you put pick up dry cleaning on my todo list?", ["Pick up dry cleaning"]),
            ("Add two tasks: buy milk and walk the dog", ["Buy milk", "Walk the dog"]),
            ("add milk, eggs and bread", ["Milk", "Eggs", "Bread"]),
            ("add buy bread and butter", ["Buy bread and butter"]),
            ('Please add "DROP TABLE task; --" to my list', ["DROP TABLE task; --"]),
        ],
    )
    def test_add(self, message: str, titles: list[str]) -> None:
        intents = understand(message)
        assert [i.kind for i in intents] == ["add"] * len(titles)
        assert [i.title for i in intents] == titles

    def test_add_with_description(self) -> None:
        (intent,) = understand("Add a task: Prepare slides. Details: 10 slides for Monday's demo")
        assert (intent.title, intent.description) == ("Prepare slides", "10 slides for Monday's demo")

    @pytest.mark.parametrize(
        ("message", "status"),
        [
            ("Show me all my tasks", "all"),
            ("What's pending?", "pending"),
            ("What have I completed so far?", "completed"),
            ("list my todos", "all"),
        ],
    )
    def test_list(self, message: str, status: str) -> None:
        (intent,) = understand(message)
        assert (intent.kind, intent.status) == ("list", status)

    @pytest.mark.parametrize(
        ("message", "kind"),
        [
            ("I finished buying groceries", "complete"),
            ("check off call mom", "complete"),
            ("Delete the meeting task", "delete"),
            ("cancel the dentist appointment", "delete"),
            ("Rename 'buy milk' to 'buy oat milk'", "update"),
            ("Hello!", "chat"),
            ("what can you do?", "help"),
        ],
    )
    def test_kinds(self, message: str, kind: str) -> None:
        assert understand(message)[0].kind == kind

    def test_ids_ordinals_and_pronouns(self) -> None:
        assert understand("Complete task 42")[0].ref.task_id == 42
        assert understand("Delete the first one")[0].ref.ordinal == 1
        assert understand("Actually, mark it as done")[0].ref.pronoun


class TestTitleMatching:
    TASKS = [
        {"id": 1, "title": "Finish quarterly report"},
        {"id": 2, "title": "Water plants"},
        {"id": 3, "title": "Buy groceries"},
    ]

    def test_fuzzy_match(self) -> None:
        assert by_title("the report", self.TASKS).task == self.TASKS[0]
        assert by_title("buying groceries", self.TASKS).task == self.TASKS[2]

    def test_no_match(self) -> None:
        assert by_title("skydiving", self.TASKS).task is None

    def test_two_equal_matches_ask_back(self) -> None:
        tasks = [{"id": 1, "title": "Call mom"}, {"id": 2, "title": "Call dad"}]
        assert by_title("call", tasks).candidates == tasks
