"""`taskchat mcp --transport http`: the standalone MCP server requires the service token."""

import os

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from tests.e2e.conftest import stop, taskchat
from tests.helpers import free_port, wait_for_http

SERVICE_TOKEN = "test-service-token-0123456789"


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
        assert response.json()["error"]["code"] == "unauthorized"

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


async def test_the_readme_example_client_runs_as_printed(mcp_url, sessions) -> None:
    """examples/mcp_client.py, which the README shows whole, against this real `taskchat mcp` process."""
    import asyncio
    import re
    import sys
    from pathlib import Path

    from sqlmodel import select

    from common.models import Task

    example = Path(__file__).parents[2] / "examples" / "mcp_client.py"
    env = {**os.environ, "MCP_URL": mcp_url, "MCP_SERVICE_TOKEN": SERVICE_TOKEN}
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
