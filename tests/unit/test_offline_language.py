import pytest

from worker.offline.language import understand
from worker.offline.resolve import by_title, by_titles, stem


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
            ("add buy milk and walk the dog", ["Buy milk", "Walk the dog"]),
            ('Please add "DROP TABLE task; --" to my list', ["DROP TABLE task; --"]),
            ("add task: 1; DELETE FROM task; --", ["1; DELETE FROM task; --"]),
            ("Don't let me forget to water the tomatoes", ["Water the tomatoes"]),
            ("I gotta fix the bike", ["Fix the bike"]),
            ("Remind me tomorrow to call mom", ["Call mom"]),
            ("add 買牛乳", ["買牛乳"]),
            ("Add 'Café au lait ☕'", ["Café au lait ☕"]),
            (
                "Add a task to pick up dry cleaning and another to call the dentist",
                ["Pick up dry cleaning", "Call the dentist"],
            ),
            ("Create tasks: book flights; reserve hotel", ["Book flights", "Reserve hotel"]),
            ("add Buy milk\nadd Call mom", ["Buy milk", "Call mom"]),
            ("Schedule a dentist appointment", ["Schedule a dentist appointment"]),
        ],
    )
    def test_add(self, message: str, titles: list[str]) -> None:
        intents = understand(message)
        assert [i.kind for i in intents] == ["add"] * len(titles)
        assert [i.title for i in intents] == titles

    @pytest.mark.parametrize(
        ("message", "title", "description"),
        [
            (
                "Add a task: Prepare slides. Details: 10 slides for Monday's demo",
                "Prepare slides",
                "10 slides for Monday's demo",
            ),
            (
                "Add 'Write blog post' with the description 'about the release'",
                "Write blog post",
                "about the release",
            ),
            ("add a task to fix the sink - details: it leaks", "Fix the sink", "it leaks"),
            (
                "add a task called 'Finish taxes' and describe it as 'use the app'",
                "Finish taxes",
                "use the app",
            ),
        ],
    )
    def test_add_with_description(self, message: str, title: str, description: str) -> None:
        (intent,) = understand(message)
        assert (intent.kind, intent.title, intent.description) == ("add", title, description)

    @pytest.mark.parametrize(
        ("message", "status"),
        [
            ("Show me all my tasks", "all"),
            ("What's pending?", "pending"),
            ("What have I completed so far?", "completed"),
            ("list my todos", "all"),
            ("what's left?", "pending"),
            ("What's on my to-do list?", "all"),
            ("Which items are not done yet?", "pending"),
            ("what did I get done?", "completed"),
            ("my tasks", "all"),
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
            ("I fed the cat", "complete"),
            ("Rent's paid", "complete"),
            ("the car has been washed", "complete"),
            ("tax return submitted", "complete"),
            ("Delete the meeting task", "delete"),
            ("cancel the dentist appointment", "delete"),
            ("I don't need to buy stamps anymore", "delete"),
            ("Rename 'buy milk' to 'buy oat milk'", "update"),
            ("add a description to the report task: include charts", "update"),
            ("mark task 3 as not done", "reopen"),
            ("mark all my tasks as done", "complete_all"),
            ("clear my list", "delete_all"),
            ("Hello!", "chat"),
            ("tell me a joke", "chat"),
            ("What's the weather like today?", "chat"),
            ("what can you do?", "help"),
            ("undo", "undo"),
        ],
    )
    def test_kinds(self, message: str, kind: str) -> None:
        assert understand(message)[0].kind == kind

    def test_a_quoted_title_is_not_a_command(self) -> None:
        (intent,) = understand("Add 'Mark all invoices as done'")
        assert (intent.kind, intent.title) == ("add", "Mark all invoices as done")

    def test_several_commands_in_one_message(self) -> None:
        intents = understand("delete the dentist task and add call the plumber")
        assert [(i.kind, i.ref.query, i.title) for i in intents] == [
            ("delete", "dentist", None),
            ("add", "", "Call the plumber"),
        ]

    def test_bulk_delete_keeps_its_filter(self) -> None:
        (intent,) = understand("delete all completed tasks")
        assert (intent.kind, intent.status) == ("delete_all", "completed")

    def test_ids_ordinals_and_pronouns(self) -> None:
        assert understand("Complete task 42")[0].ref.task_id == 42
        assert understand("mark #42 done")[0].ref.task_id == 42
        assert understand("remove number 42")[0].ref.task_id == 42
        assert [i.ref.task_id for i in understand("mark tasks 4 and 5 as done")] == [4, 5]
        assert understand("Delete the first one")[0].ref.ordinal == 1
        assert understand("the last one is done")[0].ref.ordinal == -1
        assert understand("Actually, mark it as done")[0].ref.pronoun
        assert understand("delete both of them")[0].ref.plural

    @pytest.mark.parametrize(
        ("message", "kind", "query"),
        [
            ("So I was thinking, could you add a task to repaint the fence?", "add", ""),
            ("Hey, just wanted to let you know I called mom", "complete", "called mom"),
            ("Remove the report task, I already did it", "delete", "report"),
            ("delete the gym task because I cancelled my membership", "delete", "gym"),
            ("I finished the report, can you mark it done?", "complete", "report"),
            ("the bathroom is sparkling clean now, mark it done", "complete", "bathroom is sparkling clean"),
            ("find the milk task", "show", "milk"),
        ],
    )
    def test_what_surrounds_a_request(self, message: str, kind: str, query: str) -> None:
        (intent,) = understand(message)
        assert (intent.kind, intent.ref.query) == (kind, query)

    @pytest.mark.parametrize(
        "message", ["I have to go, bye!", "Remember me?", "write me a poem", "Can you order pizza for me?"]
    )
    def test_talk_that_looks_like_a_task_is_talk(self, message: str) -> None:
        assert [i.kind for i in understand(message)] == ["chat"]

    def test_details_after_a_title(self) -> None:
        (intent,) = understand("Add 'Finish quarterly report' (include the Q3 numbers)")
        assert (intent.title, intent.description) == ("Finish quarterly report", "include the Q3 numbers")
        (intent,) = understand("Add call the bank: ask about the mortgage rate")
        assert (intent.title, intent.description) == ("Call the bank", "ask about the mortgage rate")

    def test_bulk_with_an_exception(self) -> None:
        (intent,) = understand("mark everything done except the report")
        assert intent.kind == "complete_all" and [r.query for r in intent.keep] == ["report"]

    def test_update_slots(self) -> None:
        (intent,) = understand("Update the description of the report task to 'add charts'")
        assert (intent.ref.query, intent.description, intent.title) == ("report", "add charts", None)
        (intent,) = understand("rename task 7 to 'Book hotel' and set its description to '3 nights'")
        assert (intent.ref.task_id, intent.title, intent.description) == (7, "Book hotel", "3 nights")


class TestTitleMatching:
    TASKS = [
        {"id": 1, "title": "Finish quarterly report", "completed": False},
        {"id": 2, "title": "Water plants", "completed": False},
        {"id": 3, "title": "Buy groceries", "completed": False},
        {"id": 4, "title": "Feed the cat", "completed": False},
        {"id": 5, "title": "Pay electricity bill", "completed": False},
    ]

    @pytest.mark.parametrize(
        ("query", "task_id"),
        [
            ("the report", 1),
            ("buying groceries", 3),
            ("bought groceries", 3),
            ("fed the cat", 4),
            ("paid the electric bill", 5),
            ("watered the plants", 2),
        ],
    )
    def test_fuzzy_match(self, query: str, task_id: int) -> None:
        assert [t["id"] for t in by_title(query, self.TASKS).tasks] == [task_id]

    @pytest.mark.parametrize("query", ["skydiving", "the secret plan", "yoga class"])
    def test_no_match(self, query: str) -> None:
        found = by_title(query, self.TASKS)
        assert not found.tasks and not found.candidates

    def test_two_equal_matches_ask_back(self) -> None:
        tasks = [{"id": 1, "title": "Call mom"}, {"id": 2, "title": "Call dad"}]
        assert by_title("call", tasks).candidates == tasks

    def test_the_exact_title_wins(self) -> None:
        tasks = [{"id": 1, "title": "Call mom about dinner"}, {"id": 2, "title": "Call mom"}]
        assert by_title("call mom", tasks).tasks == [tasks[1]]

    def test_one_phrase_may_name_several_tasks(self) -> None:
        found = by_titles("walked the dog and fed the cat", [*self.TASKS, {"id": 6, "title": "Walk the dog"}])
        assert sorted(t["id"] for t in found.tasks) == [4, 6]

    @pytest.mark.parametrize(
        ("a", "b"), [("fed", "feed"), ("bought", "buy"), ("written", "write"), ("shopping", "shop")]
    )
    def test_irregular_verbs_share_a_stem(self, a: str, b: str) -> None:
        assert stem(a) == stem(b)


class TestMoods:
    @pytest.mark.parametrize(
        ("message", "kind", "mood"),
        [
            ("Did I already add something about the dentist?", "add", "ask"),
            ("did I call mom?", "complete", "ask"),
            ("is the report done?", "complete", "ask"),
            ("was the dentist appointment deleted?", "delete", "ask"),
            ("what would happen if I deleted the milk task?", "delete", "suppose"),
            ("if I removed everything, what would I lose?", "delete_all", "suppose"),
            ("don't delete the milk task", "delete", "refuse"),
            ("no need to add bread", "add", "refuse"),
            ("I haven't paid rent yet", "complete", "refuse"),
            ("should I delete the milk task?", "delete", "suggest"),
            ("maybe cancel the dentist?", "delete", "suggest"),
            ("delete the milk task?", "delete", "suggest"),
            ("Can you delete the milk task?", "delete", ""),
            ("delete the milk task", "delete", ""),
            ("I don't need to buy stamps anymore", "delete", ""),
        ],
    )
    def test_mood(self, message: str, kind: str, mood: str) -> None:
        (intent,) = understand(message)
        assert (intent.kind, intent.mood) == (kind, mood)

    def test_a_deadline_makes_finish_a_task_to_add(self) -> None:
        (intent,) = understand("Finish the report by Friday")
        assert intent.kind == "add" and not intent.mood

    @pytest.mark.parametrize(
        "message",
        [
            "Change the due date of the report to Friday",
            "move the dentist to Thursday",
            "push the report back a day",
        ],
    )
    def test_a_date_change_is_no_rename(self, message: str) -> None:
        (intent,) = understand(message)
        assert intent.kind == "reschedule" and intent.title is None and intent.when
