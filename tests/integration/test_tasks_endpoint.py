"""`GET /api/{user_id}/tasks` and the chat body's `timezone`, over HTTP against a real app and worker."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastmcp import Client
from sqlmodel import select

from common.models import Task, UserState
from mcp_tools.server import mcp

TOKYO = ZoneInfo("Asia/Tokyo")


async def add(user_id: str, **arguments: object) -> dict:
    async with Client(mcp) as client:
        return (await client.call_tool("add_task", {"user_id": user_id, **arguments})).structured_content


class TestTimezone:
    async def test_an_unknown_zone_is_422_and_nothing_is_stored(self, http, auth, sessions, user_id) -> None:
        response = await http.post(
            f"/api/{user_id}/chat", headers=auth, json={"message": "add milk", "timezone": "Mars/Olympus"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"
        assert "unknown time zone 'Mars/Olympus'" in response.json()["error"]["message"]
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == user_id))).all() == []

    async def test_the_zone_is_remembered_and_dates_are_read_in_it(
        self, http, auth, sessions, user_id
    ) -> None:
        first = await http.post(
            f"/api/{user_id}/chat",
            headers=auth,
            json={"message": "call mom tomorrow at 5pm", "timezone": "Asia/Tokyo"},
        )
        assert first.status_code == 200, first.text
        (call,) = first.json()["tool_calls"]
        tomorrow = datetime.now(TOKYO).date() + timedelta(days=1)
        assert call["arguments"]["due_at"] == f"{tomorrow}T17:00:00+09:00"
        assert call["result"]["due_at"] == f"{tomorrow}T17:00:00+09:00"
        async with sessions() as s:
            assert (await s.get(UserState, user_id)).timezone == "Asia/Tokyo"
        # A later turn without a zone, from another client, uses the remembered one.
        listed = await http.get(f"/api/{user_id}/tasks", headers=auth)
        assert listed.json()["timezone"] == "Asia/Tokyo"
        assert listed.json()["tasks"][0]["due_at"] == f"{tomorrow}T17:00:00+09:00"


class TestTasksEndpoint:
    async def test_filters_like_list_tasks(self, http, auth, user_id) -> None:
        now = datetime.now(ZoneInfo("UTC"))
        late = await add(user_id, title="Late", due_at=(now - timedelta(hours=1)).isoformat())
        urgent = await add(user_id, title="Fix the sink", priority="urgent", tags=["home"])
        await add(user_id, title="Buy milk", tags=["errands"], due_at=str(now.date() + timedelta(days=3)))

        async def titles(**params: object) -> list[str]:
            response = await http.get(f"/api/{user_id}/tasks", headers=auth, params=params)
            assert response.status_code == 200, response.text
            return [t["title"] for t in response.json()["tasks"]]

        assert await titles() == ["Late", "Fix the sink", "Buy milk"]
        assert await titles(overdue="true") == ["Late"]
        assert await titles(tag="home") == ["Fix the sink"]
        assert await titles(priority="urgent") == ["Fix the sink"]
        assert await titles(query="sink") == ["Fix the sink"]
        assert await titles(sort="due") == ["Late", "Buy milk", "Fix the sink"]
        assert await titles(due_after=str(now.date() + timedelta(days=1))) == ["Buy milk"]
        assert await titles(status="completed") == []
        assert (await http.get(f"/api/{user_id}/tasks", headers=auth, params={"limit": 1})).json()["tasks"][
            0
        ]["id"] == late["id"]
        assert urgent["priority"] == "urgent"

    async def test_bad_filters_are_422_with_the_problem_named(self, http, auth, user_id) -> None:
        for params, words in (
            ({"due_before": "friday"}, "due_before: 'friday' is not an ISO 8601"),
            ({"priority": "meh"}, "priority: Input should be 'low', 'normal', 'high' or 'urgent'"),
            ({"sort": "title"}, "sort"),
            ({"limit": 0}, "limit"),
            ({"timezone": "Nowhere"}, "unknown time zone"),
        ):
            response = await http.get(f"/api/{user_id}/tasks", headers=auth, params=params)
            assert response.status_code == 422, params
            assert (
                response.json()["error"]["code"] == "validation_error"
                and words in response.json()["error"]["message"]
            )

    async def test_scoped_like_every_route(self, http, auth, user_id) -> None:
        await add("someone-else", title="not yours")
        assert (await http.get("/api/someone-else/tasks", headers=auth)).status_code == 403
        assert (await http.get(f"/api/{user_id}/tasks")).status_code == 401
        assert (await http.get(f"/api/{user_id}/tasks", headers=auth)).json()["tasks"] == []

    async def test_in_openapi_read_only(self, http) -> None:
        paths = (await http.get("/openapi.json")).json()["paths"]
        assert set(paths["/api/{user_id}/tasks"]) == {"get"}
