"""The HTTP contract (DESIGN.md §4) against a real uvicorn server and a real Dramatiq worker on the
machine's PostgreSQL and Redis."""

import json

import pytest
from sqlmodel import col, select

from common.devkeys import mint_token
from common.models import Conversation, Message, Role, Run, RunStatus, Task, ToolCall, UserState


async def chat(http, user_id, auth, message, conversation_id=None, **headers):
    body = (
        {"message": message}
        if conversation_id is None
        else {"message": message, "conversation_id": conversation_id}
    )
    return await http.post(f"/api/{user_id}/chat", json=body, headers={**auth, **headers})


class TestChat:
    async def test_a_task_request_returns_the_answer_and_its_tool_calls(
        self, http, sessions, user_id, auth
    ) -> None:
        response = await chat(http, user_id, auth, "Add a task to buy groceries")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"conversation_id", "message_id", "run_id", "response", "tool_calls"}
        assert "Buy groceries" in body["response"]
        (call,) = body["tool_calls"]
        assert (call["name"], call["arguments"], call["status"]) == (
            "add_task",
            {"title": "Buy groceries"},
            "ok",
        )
        async with sessions() as s:
            rows = (
                await s.exec(
                    select(ToolCall).where(ToolCall.run_id == body["run_id"]).order_by(col(ToolCall.seq))
                )
            ).all()
            answer = await s.get(Message, body["message_id"])
            run = await s.get(Run, body["run_id"])
            tasks = (await s.exec(select(Task).where(Task.user_id == user_id))).all()
        assert body["tool_calls"] == [
            {
                "id": r.id,
                "name": r.name,
                "arguments": r.arguments,
                "result": r.result,
                "status": r.status,
                "error": r.error,
                "duration_ms": r.duration_ms,
            }
            for r in rows
        ]
        assert answer.content == body["response"] and answer.role == Role.assistant
        assert run.status == RunStatus.succeeded and run.conversation_id == body["conversation_id"]
        assert [t.title for t in tasks] == ["Buy groceries"]

    async def test_a_conversation_continues_with_its_history(self, http, sessions, user_id, auth) -> None:
        first = (await chat(http, user_id, auth, "Add a task to call the plumber")).json()
        second = await chat(http, user_id, auth, "Actually, mark it as done", first["conversation_id"])
        assert second.status_code == 200
        assert [c["name"] for c in second.json()["tool_calls"]] == ["complete_task"]
        async with sessions() as s:
            (task,) = (await s.exec(select(Task).where(Task.user_id == user_id))).all()
        assert task.completed

    async def test_full_task_lifecycle(self, http, sessions, user_id, auth) -> None:
        conv = (await chat(http, user_id, auth, "Add two tasks: buy milk and walk the dog")).json()[
            "conversation_id"
        ]
        listed = (await chat(http, user_id, auth, "What's pending?", conv)).json()
        assert "Buy milk" in listed["response"] and "Walk the dog" in listed["response"]
        assert (await chat(http, user_id, auth, "I finished buying milk", conv)).status_code == 200
        assert (
            await chat(http, user_id, auth, "Rename 'walk the dog' to 'walk the dog twice'", conv)
        ).status_code == 200
        deleted = (await chat(http, user_id, auth, "delete the milk task", conv)).json()
        assert [c["name"] for c in deleted["tool_calls"]] == ["list_tasks", "delete_task"]
        async with sessions() as s:
            tasks = (await s.exec(select(Task).where(Task.user_id == user_id))).all()
        # A quoted new title is stored exactly as typed.
        assert [(t.title, t.completed) for t in tasks] == [("walk the dog twice", False)]

    async def test_idempotency_key_returns_the_same_run(self, http, sessions, user_id, auth) -> None:
        first = await chat(
            http, user_id, auth, "Add a task to renew my passport", **{"Idempotency-Key": "k-1"}
        )
        again = await chat(
            http, user_id, auth, "Add a task to renew my passport", **{"Idempotency-Key": "k-1"}
        )
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        other = await chat(http, user_id, auth, "Add a task to renew my visa", **{"Idempotency-Key": "k-1"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
        async with sessions() as s:
            assert (
                len(
                    (
                        await s.exec(
                            select(Message).where(Message.user_id == user_id, Message.role == Role.user)
                        )
                    ).all()
                )
                == 1
            )
            assert len((await s.exec(select(Task).where(Task.user_id == user_id))).all()) == 1


class TestErrors:
    async def test_missing_or_bad_token_is_401(self, http, user_id) -> None:
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": "Basic abc"},
            {"Authorization": "Bearer"},
        ):
            response = await http.post(f"/api/{user_id}/chat", json={"message": "hi"}, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_another_users_path_is_403(self, http, user_id, auth) -> None:
        response = await chat(http, "someone-else", auth, "hi")
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"

    async def test_another_users_conversation_is_404(self, http, settings, sessions, user_id, auth) -> None:
        owner = "owner-" + user_id
        owner_auth = {"Authorization": f"Bearer {mint_token(settings, owner)}"}
        theirs = (await chat(http, owner, owner_auth, "Add a task to plan the surprise party")).json()[
            "conversation_id"
        ]
        response = await chat(http, user_id, auth, "show my tasks", theirs)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        history = await http.get(f"/api/{user_id}/conversations/{theirs}/messages", headers=auth)
        assert history.status_code == 404
        mine = (await http.get(f"/api/{user_id}/conversations", headers=auth)).json()
        assert all(c["id"] != theirs for c in mine["conversations"])
        async with sessions() as s:
            assert len((await s.exec(select(Message).where(Message.conversation_id == theirs))).all()) == 2

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"message": ""},
            {"message": "   "},
            {"message": "x" * 4001},
            {"message": 42},
            {"message": "hi", "conversation_id": "abc"},
            {"message": "hi", "conversation_id": 0},
            {"message": "hi", "conversation_id": 2**40},
            {"message": "hi", "role": "system"},
            [],
            "hi",
            {"message": "nul \x00 byte"},
            {"message": ["a"]},
        ],
    )
    async def test_bad_bodies_are_422_with_the_error_json(self, http, sessions, user_id, auth, body) -> None:
        response = await http.post(f"/api/{user_id}/chat", json=body, headers=auth)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error" and response.json()["error"]["message"]
        async with sessions() as s:
            assert (await s.exec(select(Message).where(Message.user_id == user_id))).all() == []

    async def test_invalid_json_is_422_and_huge_body_is_413(self, http, user_id, auth) -> None:
        broken = await http.post(
            f"/api/{user_id}/chat", content=b"{not json", headers={**auth, "content-type": "application/json"}
        )
        assert broken.status_code == 422
        huge = await http.post(f"/api/{user_id}/chat", json={"message": "x" * 200_000}, headers=auth)
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"

    async def test_origins_not_on_the_allowlist_are_403(self, http, user_id, auth) -> None:
        bad = await http.post(
            f"/api/{user_id}/chat",
            json={"message": "hi"},
            headers={**auth, "Origin": "https://evil.example.com"},
        )
        assert bad.status_code == 403 and bad.json()["error"]["code"] == "origin_not_allowed"
        preflight = await http.options(
            f"/api/{user_id}/chat",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,chatkit-frame-instance-id",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"

    async def test_too_many_runs_in_flight_is_429(self, http, sessions, user_id, auth, settings) -> None:
        async with sessions() as s:
            conversation = Conversation(user_id=user_id)
            s.add(conversation)
            await s.flush()
            for _ in range(settings.max_inflight_runs_per_user):
                message = Message(
                    user_id=user_id, conversation_id=conversation.id, role=Role.user, content="x"
                )
                s.add(message)
                await s.flush()
                s.add(
                    Run(
                        user_id=user_id,
                        conversation_id=conversation.id,
                        user_message_id=message.id,
                        status=RunStatus.running,
                    )
                )
            # Runs take their places in the statement that creates them; these were written directly.
            s.add(UserState(user_id=user_id, runs_in_flight=settings.max_inflight_runs_per_user))
            await s.commit()
        response = await chat(http, user_id, auth, "one more")
        assert response.status_code == 429 and response.headers["retry-after"]


class TestErrorMessages:
    """Each error says what is wrong in words a person can act on, in one shape and one rendering."""

    @staticmethod
    def rendered(code: str, message: str) -> bytes:
        return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()

    @pytest.mark.parametrize(
        ("raw", "line"),
        [
            (b'{"message": "hi",}', 1),
            (b'{\n  "message": "hi"\n  "conversation_id": 3\n}', 3),
            (b"{not json", 1),
        ],
    )
    async def test_invalid_json_says_where_and_why(self, http, user_id, auth, raw, line) -> None:
        with pytest.raises(json.JSONDecodeError) as parsed:  # the reason in this Python's own words
            json.loads(raw)
        assert parsed.value.lineno == line
        response = await http.post(
            f"/api/{user_id}/chat", content=raw, headers={**auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 422
        where = f"{parsed.value.msg} at line {line}, column {parsed.value.colno}"
        assert response.content == self.rendered(
            "validation_error", f"The request body is not valid JSON: {where}."
        )

    @pytest.mark.parametrize(
        ("content_type", "said"), [(None, "it had none"), ("text/plain", "it said 'text/plain'")]
    )
    async def test_a_body_not_sent_as_json_says_which_header_to_send(
        self, http, user_id, auth, content_type, said
    ) -> None:
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        response = await http.post(f"/api/{user_id}/chat", content=b'{"message": "hi"}', headers=headers)
        assert response.status_code == 422
        message = f"Send the body as JSON, with the header Content-Type: application/json ({said})."
        assert response.content == self.rendered("validation_error", message)

    async def test_an_empty_body_says_so(self, http, user_id, auth) -> None:
        response = await http.post(
            f"/api/{user_id}/chat", content=b"", headers={**auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 422
        assert response.content == self.rendered(
            "validation_error", "The request body is empty; send a JSON object."
        )

    async def test_the_guards_render_errors_like_the_handlers(self, http, user_id, auth) -> None:
        unauthorized = await http.post(f"/api/{user_id}/chat", json={"message": "hi"})
        assert unauthorized.content == self.rendered("unauthorized", "A valid bearer token is required.")
        huge = await http.post(f"/api/{user_id}/chat", json={"message": "x" * 70_000}, headers=auth)
        assert (huge.status_code, huge.headers["content-type"]) == (413, "application/json")
        assert huge.content == self.rendered(
            "payload_too_large", "The request body is larger than 65536 bytes, this API's limit."
        )
        origin = await http.post(
            f"/api/{user_id}/chat", json={"message": "hi"}, headers={**auth, "Origin": "https://evil.example"}
        )
        assert (origin.status_code, origin.headers["content-type"]) == (403, "application/json")
        assert origin.content == self.rendered(
            "origin_not_allowed",
            "Browser requests from https://evil.example are not allowed: the API's ALLOWED_ORIGINS does not "
            "list that origin.",
        )


class TestReadEndpoints:
    async def test_conversations_and_messages(self, http, user_id, auth) -> None:
        first = (await chat(http, user_id, auth, "Add a task to water the plants")).json()
        await chat(http, user_id, auth, "list my todos", first["conversation_id"])
        listing = (await http.get(f"/api/{user_id}/conversations", headers=auth)).json()
        assert [c["id"] for c in listing["conversations"]] == [first["conversation_id"]]
        assert listing["conversations"][0]["preview"] == "Add a task to water the plants"
        history = (
            await http.get(f"/api/{user_id}/conversations/{first['conversation_id']}/messages", headers=auth)
        ).json()
        assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user", "assistant"]
        assert history["messages"][1]["tool_calls"] == first["tool_calls"]
        assert history["messages"][1]["run_id"] == first["run_id"]

    async def test_health(self, http) -> None:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
        assert (await http.get("/metrics")).status_code == 200
