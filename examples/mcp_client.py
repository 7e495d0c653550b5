"""Manage a user's tasks through taskchat's MCP server (`taskchat mcp --transport http`, or `taskchat dev
--mcp`, which prints the two variables this reads). Run it with the project's Python:
    MCP_URL=http://127.0.0.1:8001/mcp MCP_SERVICE_TOKEN=... .venv/bin/python examples/mcp_client.py
"""

import asyncio
import os

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport


async def main() -> None:
    url = os.environ.get("MCP_URL", "http://127.0.0.1:8001/mcp")
    transport = StreamableHttpTransport(url, auth=os.environ["MCP_SERVICE_TOKEN"])
    async with Client(transport) as client:
        print("tools:", ", ".join(sorted(tool.name for tool in await client.list_tools())))
        # The service token may act for any user: the caller names the user in every call.
        added = await client.call_tool("add_task", {"user_id": "demo", "title": "Water the plants"})
        task = added.structured_content
        print(f"added task {task['id']}: {task['title']}")
        pending = await client.call_tool("list_tasks", {"user_id": "demo", "status": "pending"})
        print("pending:", ", ".join(t["title"] for t in pending.structured_content["tasks"]))
        done = await client.call_tool("complete_task", {"user_id": "demo", "task_id": task["id"]})
        print(f"completed task {task['id']}:", done.structured_content["completed"])


if __name__ == "__main__":
    asyncio.run(main())
