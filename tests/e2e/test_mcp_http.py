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
