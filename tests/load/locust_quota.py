"""Load against Gemini's quota: chats through a stack whose model is `bench.wire`'s fake with a per-minute
quota (`--rpm`) and whose workers pace themselves to it (`GEMINI_RPM`). More users than the quota serves
must make chats wait, never fail. `python -m bench.run locust` starts the stack and runs this:

    TASKCHAT_ENV=development TASKCHAT_HOME=... .venv/bin/locust -f tests/load/locust_quota.py \\
        --headless -u 20 -r 5 -t 90s --host http://127.0.0.1:8000

The fake model only knows how to add tasks ("Add a task to X", "also remind me to X"), so that is what
users ask, in new conversations, follow-ups and streamed turns. A failure is any non-200 answer, an SSE
stream that does not end in `done`, or a reply that does not name the task asked for (a run that gave up
answers "Sorry — …").
"""

import json
import random
import uuid

from locust import FastHttpUser, between, task

from common.devkeys import mint_token
from common.settings import get_settings

CHORES = ["buy milk", "call the bank", "water the plants", "book the dentist", "pay rent", "walk the dog"]


class PacedChatUser(FastHttpUser):
    wait_time = between(0.5, 2.0)
    network_timeout = 180.0  # a chat waits for its turn in the quota

    def on_start(self) -> None:
        self.user_id = f"quota-{uuid.uuid4().hex[:10]}"
        self.headers = {"Authorization": f"Bearer {mint_token(get_settings(), self.user_id)}"}
        self.conversation_id: int | None = None

    def _chore(self) -> str:
        return f"{random.choice(CHORES)} {uuid.uuid4().hex[:4]}"

    def _chat(self, message: str, chore: str, *, name: str, new: bool = False) -> None:
        body = {"message": message, "conversation_id": None if new else self.conversation_id}
        with self.client.post(
            f"/api/{self.user_id}/chat", json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            self.conversation_id = answer["conversation_id"]
            if chore not in answer["response"]:
                response.failure(f"reply lacks {chore!r}: {answer['response'][:200]}")
            else:
                response.success()

    @task(3)
    def new_conversation_adds_a_task(self) -> None:
        chore = self._chore()
        self._chat(f"Add a task to {chore}", chore, name="chat: add (new conversation)", new=True)

    @task(3)
    def follow_up_adds_another(self) -> None:
        chore = self._chore()
        self._chat(f"also remind me to {chore}", chore, name="chat: add (follow-up)")

    @task(2)
    def streamed_turn(self) -> None:
        chore = self._chore()
        headers = {**self.headers, "Accept": "text/event-stream", "Idempotency-Key": uuid.uuid4().hex}
        body = {"message": f"Add a task to {chore}", "conversation_id": self.conversation_id}
        with self.client.post(
            f"/api/{self.user_id}/chat",
            json=body,
            headers=headers,
            name="chat: stream (SSE)",
            catch_response=True,
        ) as response:
            lines = response.text.splitlines()
            events = [line[6:].strip() for line in lines if line.startswith("event:")]
            if response.status_code != 200 or not events or events[-1] != "done":
                response.failure(f"HTTP {response.status_code}, events {events[-3:]}")
                return
            done = json.loads([line for line in lines if line.startswith("data:")][-1][5:])
            self.conversation_id = done["conversation_id"]
            if chore not in done["response"]:
                response.failure(f"reply lacks {chore!r}: {done['response'][:200]}")
            else:
                response.success()

    @task(1)
    def reload_history(self) -> None:
        if self.conversation_id:
            self.client.get(
                f"/api/{self.user_id}/conversations/{self.conversation_id}/messages",
                headers=self.headers,
                name="history: messages",
            )
