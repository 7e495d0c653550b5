"""The task tools as the agent sees them: the MCP server, in-process or over HTTP, with `user_id` hidden
from the model and injected from the run, and a per-call key so that a retried run replays calls it
already made (see `mcp_tools.server.RunLedger`).

In-process, calls go straight to the FastMCP server (`call_in_process`: its middleware and validation
run, the JSON-RPC hop through memory streams does not); the tool list still comes from an MCP client."""

import asyncio
import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agents import RunContextWrapper, default_tool_error_function
from agents.exceptions import AgentsException
from agents.mcp import MCPServer
from agents.mcp.util import MCPToolMetaContext
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from mcp_types import CallToolResult, GetPromptResult, ListPromptsResult
from mcp_types import Tool as MCPTool

from common.db import UNAVAILABLE
from mcp_tools.ledger import (
    META_CALL_KEY,
    META_REPLAY,
    META_RUN_ID,
    META_STEPS,
    META_STEPS_RECORDED,
    META_TIMEZONE,
    StepConflict,
    call_key,
)
from mcp_tools.server import call_in_process, mcp
from worker.metrics import TOOL_CALLS

META_USER_ID = "taskchat/user_id"  # consumed here, never sent to the server


@dataclass
class RunContext:
    """Trusted per-run data; the SDK passes it to the meta resolver, never to the model."""

    run_id: int
    user_id: str
    timezone: str = "UTC"
    retried: bool = False  # an earlier attempt may have made some of this run's calls already
    calls: Counter[str] = field(default_factory=Counter)


def resolve_meta(ctx: MCPToolMetaContext) -> dict[str, Any]:
    run: RunContext = ctx.run_context.context
    arguments = {k: v for k, v in (ctx.arguments or {}).items() if k != "user_id"}
    base = call_key(ctx.tool_name, arguments, 0).rsplit(":", 1)[0]
    run.calls[base] += 1
    meta = {
        META_RUN_ID: run.run_id,
        META_CALL_KEY: f"{base}:{run.calls[base]}",
        META_USER_ID: run.user_id,
        META_TIMEZONE: run.timezone,
    }
    if run.retried:
        meta[META_REPLAY] = True
    return meta


def tool_failure(context: RunContextWrapper[Any], error: Exception) -> str:
    """What the model is told when a tool call raised. An unreachable database is raised on instead: the
    run is retried (the ledger keeps its effects single), rather than answered with an apology. So is a
    step conflict: another attempt of the run is ahead of this one."""
    cause = error.__cause__ if isinstance(error, AgentsException) else error
    if isinstance(cause, (*UNAVAILABLE, StepConflict)):
        raise cause
    return default_tool_error_function(context, error)


class TaskTools(MCPServer):
    def __init__(self, *, url: str | None = None, token: str | None = None) -> None:
        super().__init__(use_structured_content=True, tool_meta_resolver=resolve_meta)
        self._url, self._token = url, token
        self._client: Client | None = None
        self._tools: list[MCPTool] | None = None
        self._run_locks: dict[int, asyncio.Lock] = {}
        self._unrecorded: dict[int, list[dict[str, Any]]] = {}

    @property
    def name(self) -> str:
        return "taskchat-tasks"

    async def connect(self) -> None:
        target: Any = mcp if self._url is None else StreamableHttpTransport(self._url, auth=self._token)
        self._client = Client(target)
        await self._client.__aenter__()

    async def cleanup(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        if self._tools is None:
            assert self._client is not None, "connect() first"
            self._tools = [_without_user_id(tool) for tool in await self._client.list_tools()]
        return self._tools

    async def call_tool(
        self,
        tool_name: str,
        arguments: dict[str, Any] | None,
        meta: dict[str, Any] | None = None,
    ) -> CallToolResult:
        assert self._client is not None, "connect() first"
        meta = dict(meta or {})
        user_id = meta.pop(META_USER_ID, None)
        if user_id is None:
            raise RuntimeError("tool call without a run's user")
        # The SDK starts a response's tool calls together, in the model's order; taking this FIFO lock
        # before the first real suspension keeps that order, so "add milk, eggs and bread" creates and
        # records them in the order asked, and "the second one" means the same thing every time.
        run_id = meta.get(META_RUN_ID, 0)
        async with self._run_locks.setdefault(run_id, asyncio.Lock()):
            # Read under the lock: an earlier call of the same response may just have recorded them.
            steps = self._unrecorded.get(run_id)
            if steps:
                meta[META_STEPS] = list(steps)
            result = await self._call(tool_name, arguments, meta, user_id)
            if steps and (recorded := (result.meta or {}).get(META_STEPS_RECORDED)):
                del steps[:recorded]
            return result

    def unrecorded_steps(self, run_id: int) -> list[dict[str, Any]]:
        """The run's model steps that its calls have not recorded yet (`worker.replay` adds them)."""
        return self._unrecorded.setdefault(run_id, [])

    def forget_run(self, run_id: int) -> None:
        self._run_locks.pop(run_id, None)
        self._unrecorded.pop(run_id, None)

    async def _call(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any], user_id: str
    ) -> CallToolResult:
        # Whatever the model put in the arguments, the run's user wins.
        arguments = {**(arguments or {}), "user_id": user_id}
        if self._url is None:
            result = await call_in_process(tool_name, arguments, meta)
        else:
            assert self._client is not None, "connect() first"
            result = await self._client.call_tool_mcp(tool_name, arguments, meta=meta)
        TOOL_CALLS.labels(tool_name, "error" if result.is_error else "ok").inc()
        return result

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult(prompts=[])

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> GetPromptResult:
        raise NotImplementedError("taskchat has no prompts")


def _without_user_id(tool: MCPTool) -> MCPTool:
    schema = gemini_safe(copy.deepcopy(tool.input_schema))
    schema.get("properties", {}).pop("user_id", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "user_id"]
    return tool.model_copy(update={"input_schema": schema})


def gemini_safe(schema: Any) -> Any:
    """The tool schema as Gemini's function declarations accept it (docs: gemini-tool-calling notes): an
    optional parameter is one that is not required, with a plain `type`, never `anyOf [X, null]` or a list
    of types, and no `additionalProperties`. The MCP server keeps its honest schema."""
    if isinstance(schema, list):
        return [gemini_safe(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: gemini_safe(value) for key, value in schema.items() if key != "additionalProperties"}
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            schema = {**kept[0], **schema}
    if isinstance(schema.get("type"), list):
        kept_types = [t for t in schema["type"] if t != "null"]
        schema["type"] = kept_types[0] if len(kept_types) == 1 else kept_types
    if schema.get("default", 0) is None:
        del schema["default"]
    return schema
