"""End to end: real `taskchat api` and `taskchat worker` processes, chatting over HTTP."""

import subprocess
import sys

import httpx
from sqlmodel import col, select

from common.models import Task, ToolCall


def token(user: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "taskchat.cli", "token", user], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


class TestRealProcesses:
    async def test_two_api_processes_serve_one_conversation(self, processes, sessions, user_id) -> None:
        first_api, second_api = processes
        headers = {"Authorization": f"Bearer {token(user_id)}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:

            async def say(url: str, message: str, conversation_id: int | None) -> dict:
                response = await http.post(
                    f"{url}/api/{user_id}/chat", json={"message": message, "conversation_id": conversation_id}
                )
                assert response.status_code == 200, response.text
                return response.json()

            added = await say(first_api, "Add a task to book a table for Friday", None)
            conversation = added["conversation_id"]
            # Alternate processes: the second one continues what the first started.
            changed = await say(second_api, "Change it to 'Book a table for Saturday'", conversation)
            listed = await say(first_api, "show me all my tasks", conversation)
            completed = await say(
                second_api,
                "mark task {} as complete".format(added["tool_calls"][0]["result"]["id"]),
                conversation,
            )
            removed = await say(first_api, "delete the table task", conversation)

            history = (
                await http.get(f"{second_api}/api/{user_id}/conversations/{conversation}/messages")
            ).json()

        assert [c["name"] for c in changed["tool_calls"]] == ["update_task"]
        assert "Book a table for Saturday" in listed["response"]
        assert completed["tool_calls"][0]["result"]["completed"] is True
        assert [c["name"] for c in removed["tool_calls"]] == ["list_tasks", "delete_task"]
        assert len(history["messages"]) == 10
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == user_id))).all() == []
            runs = [a["run_id"] for a in (added, changed, listed, completed, removed)]
            rows = (
                await s.exec(
                    select(ToolCall).where(col(ToolCall.run_id).in_(runs)).order_by(col(ToolCall.id))
                )
            ).all()
        sent = [c for answer in (added, changed, listed, completed, removed) for c in answer["tool_calls"]]
        assert [(c["id"], c["name"], c["arguments"], c["status"]) for c in sent] == [
            (r.id, r.name, r.arguments, r.status) for r in rows
        ]

    async def test_contract_errors_from_a_real_process(self, processes, user_id) -> None:
        url = processes[0]
        good = {"Authorization": f"Bearer {token(user_id)}"}
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.post(f"{url}/api/{user_id}/chat", json={"message": "hi"})).status_code == 401
            assert (
                await http.post(f"{url}/api/not-{user_id}/chat", json={"message": "hi"}, headers=good)
            ).status_code == 403
            assert (
                await http.post(
                    f"{url}/api/{user_id}/chat",
                    json={"message": "hi", "conversation_id": 2_000_000_000},
                    headers=good,
                )
            ).status_code == 404
            bad = await http.post(f"{url}/api/{user_id}/chat", json={"text": "hi"}, headers=good)
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
            assert (await http.get(f"{url}/readyz")).status_code == 200
