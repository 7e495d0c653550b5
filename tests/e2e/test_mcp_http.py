"""`taskchat mcp --transport http`: the standalone MCP server takes the service token (acting for the user
each call names) or a user's own token (acting for that user only), and nothing else."""

import os

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from common.devkeys import mint_token
from tests.e2e.conftest import stop, taskchat
from tests.helpers import free_port, wait_for_http

SERVICE_TOKEN = "test-service-token-0123456789-abcdefghijkl"


@pytest.fixture(scope="module")
def mcp_url(settings):
    port = free_port()
    os.environ["MCP_SERVICE_TOKEN"] = SERVICE_TOKEN
    process = taskchat("mcp", "--transport", "http", "--host", "127.0.0.1", "--port", str(port))
    del os.environ["MCP_SERVICE_TOKEN"]
    try:
        wait_for_http(f"http://127.0.0.1:{port}/mcp")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


class TestMcpOverHttp:
    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong", f"Basic {SERVICE_TOKEN}", f"Bearer {SERVICE_TOKEN}x"]
    )
    async def test_calls_without_the_service_token_are_401(self, mcp_url, header) -> None:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if header:
            headers["Authorization"] = header
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        response = httpx.post(mcp_url, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_an_mcp_client_with_the_token_manages_tasks(self, mcp_url, user_id) -> None:
        async with Client(StreamableHttpTransport(mcp_url, auth=SERVICE_TOKEN)) as client:
            assert {t.name for t in await client.list_tools()} == {
                "add_task",
                "list_tasks",
                "complete_task",
                "delete_task",
                "update_task",
                "list_reminders",
            }
            added = await client.call_tool("add_task", {"user_id": user_id, "title": "Over HTTP"})
            listed = await client.call_tool("list_tasks", {"user_id": user_id, "status": "pending"})
            missing = await client.call_tool_mcp(
                "complete_task", {"user_id": "someone-else", "task_id": added.structured_content["id"]}
            )
        assert [t["title"] for t in listed.structured_content["tasks"]] == ["Over HTTP"]
        assert (
            missing.is_error and missing.content[0].text == f"Task {added.structured_content['id']} not found"
        )


def user_client(mcp_url: str, token: str) -> Client:
    return Client(StreamableHttpTransport(mcp_url, auth=token))


def foreign_token(settings, user: str) -> str:  # type: ignore[no-untyped-def]
    """Shaped exactly like a real one, for the right issuer and audience, but signed by another key."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    now = int(time.time())
    claims = {"sub": user, "iss": settings.issuer, "aud": settings.audience, "iat": now, "exp": now + 600}
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "other"})


class TestUserTokens:
    """An MCP client with a user's own Better Auth JWT manages that user's tasks and nobody else's."""

    async def test_the_tools_are_offered_without_user_id(self, mcp_url, settings, user_id) -> None:
        async with user_client(mcp_url, mint_token(settings, user_id)) as client:
            tools = await client.list_tools()
        assert len(tools) == 6
        for tool in tools:
            assert "user_id" not in tool.input_schema["properties"], tool.name
            assert "user_id" not in tool.input_schema.get("required", []), tool.name
        async with Client(StreamableHttpTransport(mcp_url, auth=SERVICE_TOKEN)) as service:
            for tool in await service.list_tools():  # the workers' schema is unchanged
                assert "user_id" in tool.input_schema["required"], tool.name

    async def test_a_user_acts_for_themselves_only(self, mcp_url, settings, sessions, user_id) -> None:
        from sqlmodel import select

        from common.models import Task

        other = f"{user_id}-other"
        async with Client(StreamableHttpTransport(mcp_url, auth=SERVICE_TOKEN)) as service:
            theirs = (await service.call_tool("add_task", {"user_id": other, "title": "Theirs"})).data
        async with user_client(mcp_url, mint_token(settings, user_id)) as client:
            mine = (await client.call_tool("add_task", {"title": "Mine"})).structured_content
            also_mine = await client.call_tool("add_task", {"user_id": user_id, "title": "Also mine"})
            listed = (await client.call_tool("list_tasks", {})).structured_content["tasks"]
            attempts = {
                "list as them": ("list_tasks", {"user_id": other}),
                "add as them": ("add_task", {"user_id": other, "title": "Planted"}),
                "complete theirs": ("complete_task", {"task_id": theirs.id}),
                "delete theirs": ("delete_task", {"task_id": theirs.id}),
                "rename theirs": ("update_task", {"task_id": theirs.id, "title": "Hacked"}),
                "complete theirs as them": ("complete_task", {"user_id": other, "task_id": theirs.id}),
                "reminders as them": ("list_reminders", {"user_id": other}),
                "empty user_id": ("list_tasks", {"user_id": ""}),
            }
            results = {name: await client.call_tool_mcp(*call) for name, call in attempts.items()}
            as_run = await client.call_tool_mcp(
                "add_task", {"title": "Ledger"}, meta={"taskchat/run_id": 1, "taskchat/call_key": "k"}
            )
        assert [t["title"] for t in listed] == ["Mine", "Also mine"]
        assert also_mine.structured_content["title"] == "Also mine"
        not_found = f"Task {theirs.id} not found"
        refused = "This token acts for its own user only: leave user_id out."
        assert {name: (r.is_error, r.content[0].text) for name, r in results.items()} == {
            "list as them": (True, refused),
            "add as them": (True, refused),
            "complete theirs": (True, not_found),
            "delete theirs": (True, not_found),
            "rename theirs": (True, not_found),
            "complete theirs as them": (True, refused),
            "reminders as them": (True, refused),
            "empty user_id": (True, refused),
        }
        assert as_run.is_error and as_run.content[0].text == (
            "Run metadata (taskchat/...) is only for taskchat's workers."
        )
        async with sessions() as s:
            rows = (await s.exec(select(Task).where(Task.user_id.in_([user_id, other])))).all()
        assert sorted((t.user_id, t.title, t.completed) for t in rows) == [
            (user_id, "Also mine", False),
            (user_id, "Mine", False),
            (other, "Theirs", False),
        ]
        assert mine["id"] != theirs.id

    @pytest.mark.parametrize("kind", ["foreign key", "expired", "garbage", "service token as user"])
    async def test_bad_user_tokens_are_401(self, mcp_url, settings, user_id, kind) -> None:
        token = {
            "foreign key": lambda: foreign_token(settings, user_id),
            "expired": lambda: mint_token(settings, user_id, ttl_s=-3600),
            "garbage": lambda: "not-a-jwt",
            "service token as user": lambda: SERVICE_TOKEN[:-1],
        }[kind]()
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        response = httpx.post(mcp_url, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"


async def test_the_readme_example_client_runs_as_printed(mcp_url, sessions, settings) -> None:
    """examples/mcp_client.py, which the README shows whole, against this real `taskchat mcp` process,
    with demo's own token."""
    import asyncio
    import re
    import sys
    from pathlib import Path

    from sqlmodel import select

    from common.models import Task

    example = Path(__file__).parents[2] / "examples" / "mcp_client.py"
    env = {**os.environ, "MCP_URL": mcp_url, "TASKCHAT_TOKEN": mint_token(settings, "demo")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(example), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[0] == "tools: add_task, complete_task, delete_task, list_reminders, list_tasks, update_task"
    added = re.fullmatch(r"added task (\d+): Water the plants", lines[1])
    assert added and lines[2].startswith("pending: ") and "Water the plants" in lines[2]
    assert lines[3:] == [f"completed task {added.group(1)}: True"]
    async with sessions() as s:
        task = (await s.exec(select(Task).where(Task.id == int(added.group(1))))).one()
    assert (task.user_id, task.title, task.completed) == ("demo", "Water the plants", True)


def test_taskchat_mcp_without_a_database_fails_at_start_with_one_line(settings) -> None:
    import subprocess
    import sys

    port = free_port()
    unreachable = f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/taskchat"
    env = {**os.environ, "DATABASE_URL": unreachable, "MCP_SERVICE_TOKEN": SERVICE_TOKEN}
    result = subprocess.run(
        [sys.executable, "-m", "taskchat.cli", "mcp", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "taskchat mcp: cannot reach the database at "
        f"postgresql+psycopg://postgres:***@127.0.0.1:{port}/taskchat: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused'
    ]
