"""Load test with a realistic mix: new conversations, follow-ups, lists, completes, streaming.

    TASKCHAT_ENV=development TASKCHAT_HOME=... .venv/bin/locust -f tests/load/locustfile.py \\
        --headless -u 20 -r 5 -t 60s --host http://127.0.0.1:8000

Each simulated user gets its own development token (`taskchat token`'s key set, so run it against a
stack that uses the local key set, e.g. `taskchat dev`). A failure is any non-200 answer, an SSE stream
that does not end in `done`, or a reply that misses what it should name.
"""

import json
import random
import uuid

from locust import FastHttpUser, between, task

from common.devkeys import mint_token
from common.settings import get_settings

CHORES = ["buy milk", "call the bank", "water the plants", "book the dentist", "pay rent", "walk the dog"]


class ChatUser(FastHttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.user_id = f"load-{uuid.uuid4().hex[:10]}"
        self.headers = {"Authorization": f"Bearer {mint_token(get_settings(), self.user_id)}"}
        self.conversation_id: int | None = None
        self.added: list[str] = []

    def _chat(self, message: str, *, name: str, new: bool = False, expect: str | None = None) -> None:
        body = {"message": message, "conversation_id": None if new else self.conversation_id}
        with self.client.post(
            f"/api/{self.user_id}/chat", json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            self.conversation_id = answer["conversation_id"]
            if expect and expect.lower() not in answer["response"].lower():
                response.failure(f"reply lacks {expect!r}: {answer['response'][:200]}")
            else:
                response.success()

    @task(3)
    def new_conversation_adds_a_task(self) -> None:
        chore = f"{random.choice(CHORES)} {uuid.uuid4().hex[:4]}"
        self._chat(f"Add a task to {chore}", name="chat: add (new conversation)", new=True, expect=chore)
        self.added.append(chore)

    @task(3)
    def follow_up_adds_another(self) -> None:
        chore = f"{random.choice(CHORES)} {uuid.uuid4().hex[:4]}"
        self._chat(f"also remind me to {chore}", name="chat: add (follow-up)", expect=chore)
        self.added.append(chore)

    @task(2)
    def list_pending(self) -> None:
        self._chat("what's still pending?", name="chat: list")

    @task(2)
    def complete_one(self) -> None:
        if self.added:
            chore = self.added.pop(0)
            self._chat(f"I finished {chore}", name="chat: complete", expect="done")

    @task(2)
    def streamed_turn(self) -> None:
        headers = {**self.headers, "Accept": "text/event-stream", "Idempotency-Key": uuid.uuid4().hex}
        body = {"message": "show me all my tasks", "conversation_id": self.conversation_id}
        with self.client.post(
            f"/api/{self.user_id}/chat",
            json=body,
            headers=headers,
            name="chat: stream (SSE)",
            catch_response=True,
        ) as response:
            events = [line[6:].strip() for line in response.text.splitlines() if line.startswith("event:")]
            if response.status_code != 200 or not events or events[-1] != "done":
                response.failure(f"HTTP {response.status_code}, events {events[-3:]}")
            else:
                data = [
                    json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")
                ]
                self.conversation_id = data[-1]["conversation_id"]
                response.success()

    @task(1)
    def reload_history(self) -> None:
        if self.conversation_id:
            self.client.get(
                f"/api/{self.user_id}/conversations/{self.conversation_id}/messages",
                headers=self.headers,
                name="history: messages",
            )
        self.client.get(
            f"/api/{self.user_id}/conversations", headers=self.headers, name="history: conversations"
        )
