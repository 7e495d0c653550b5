"""Manage your tasks through taskchat's MCP server (`taskchat mcp --transport http`, or `taskchat dev
--mcp`, which prints the line that runs this) with your own token: a Better Auth JWT, or in development
one from `taskchat token demo`. The server acts for the token's user only. Run it with the project's Python:
    MCP_URL=http://127.0.0.1:8001/mcp TASKCHAT_TOKEN=... .venv/bin/python examples/mcp_client.py
"""

import asyncio
import os

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport


async def main() -> None:
    url = os.environ.get("MCP_URL", "http://127.0.0.1:8001/mcp")
    transport = StreamableHttpTransport(url, auth=os.environ["TASKCHAT_TOKEN"])
    async with Client(transport) as client:
        print("tools:", ", ".join(sorted(tool.name for tool in await client.list_tools())))
        # No user_id: with a user's token every call is for that user.
        added = await client.call_tool("add_task", {"title": "Water the plants"})
        task = added.structured_content
        print(f"added task {task['id']}: {task['title']}")
        pending = await client.call_tool("list_tasks", {"status": "pending"})
        print("pending:", ", ".join(t["title"] for t in pending.structured_content["tasks"]))
        done = await client.call_tool("complete_task", {"task_id": task["id"]})
        print(f"completed task {task['id']}:", done.structured_content["completed"])


if __name__ == "__main__":
    asyncio.run(main())
