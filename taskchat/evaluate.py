"""`taskchat eval FILE`: runs a command corpus through a running stack's HTTP API and MCP tools and
prints every miss and the accuracy (format: tests/eval/README.md)."""

import argparse
import asyncio
import json
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2

from common.devkeys import mint_token
from common.settings import get_settings
from mcp_tools.ledger import META_TIMEZONE
from taskchat.corpus import same_tasks, starting_arguments

OTHER_TITLE = "OTHER-USER-SECRET plan"


@dataclass
class Outcome:
    case_id: str
    problems: list[str] = field(default_factory=list)


class Tools:
    """The MCP tools: over HTTP with the service token, or in-process on DATABASE_URL."""

    def __init__(self, url: str | None, token: str | None) -> None:
        self.url, self.token = url, token

    async def __aenter__(self) -> "Tools":
        from fastmcp import Client
        from fastmcp.client.transports import StreamableHttpTransport

        if self.url:
            self.client = Client(StreamableHttpTransport(self.url, auth=self.token))
        else:
            from common.db import Database
            from mcp_tools import server

            self.db = Database(get_settings(), pool_size=8)
            server.bind_database(self.db)
            self.client = Client(server.mcp)
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(None, None, None)
        if not self.url:
            await self.db.close()

    async def call(self, name: str, zone: str | None = None, **arguments: Any) -> Any:
        # A service caller may say which zone its dates are meant in, as the worker does for a run.
        meta = {META_TIMEZONE: zone} if zone else None
        return (await self.client.call_tool(name, arguments, meta=meta)).structured_content


async def run_case(case: dict[str, Any], *, http: httpx2.AsyncClient, tools: Tools) -> Outcome:
    outcome = Outcome(case["id"])
    user, other = f"eval-{uuid.uuid4().hex[:12]}", f"eval-other-{uuid.uuid4().hex[:12]}"
    secret = await tools.call("add_task", user_id=other, title=OTHER_TITLE)
    zone = case.get("timezone")
    now = datetime.now(ZoneInfo(zone or "UTC"))  # the case's dates are relative to this
    ids = []
    for task in case.get("tasks", []):
        added = await tools.call("add_task", zone, user_id=user, **starting_arguments(task, now))
        if task.get("completed"):
            await tools.call("complete_task", zone, user_id=user, task_id=added["id"])
        ids.append(added["id"])

    headers = {"Authorization": f"Bearer {mint_token(get_settings(), user)}"}
    conversation_id, answer = None, {}
    for turn in case["turns"]:
        message = re.sub(r"\{id:(\d+)\}", lambda m: str(ids[int(m.group(1))]), turn)
        message = re.sub(r"\{other:\d+\}", str(secret["id"]), message)
        body: dict[str, Any] = {"message": message, "conversation_id": conversation_id}
        if zone:
            body["timezone"] = zone
        response = await http.post(f"/api/{user}/chat", headers=headers, json=body)
        if response.status_code != 200:
            outcome.problems.append(f"{message!r} -> HTTP {response.status_code} {response.text[:200]}")
            return outcome
        answer = response.json()
        conversation_id = answer["conversation_id"]
        if "OTHER-USER-SECRET" in answer["response"]:
            outcome.problems.append(f"{message!r}: the reply mentions the other user's task")

    expect = case.get("expect", {})
    tasks = (await tools.call("list_tasks", user_id=user, status="all"))["tasks"]
    if "tasks" in expect and not same_tasks(tasks, expect["tasks"], now):
        keys = ("title", "description", "completed", "due_at", "priority", "tags", "remind_at", "repeat")
        have = [{k: t[k] for k in keys if t.get(k) not in (None, [], "")} for t in tasks]
        outcome.problems.append(f"tasks: expected {expect['tasks']}, have {have}")
    names = [c["name"] for c in answer.get("tool_calls", [])]
    outcome.problems += [
        f"expected a {n} call, got {names}" for n in expect.get("calls", []) if n not in names
    ]
    outcome.problems += [f"unexpected {n} call" for n in expect.get("no_calls", []) if n in names]
    reply = answer.get("response", "").lower()
    outcome.problems += [
        f"reply lacks {s!r}: {reply!r}" for s in expect.get("reply", []) if s.lower() not in reply
    ]
    outcome.problems += [
        f"reply has {s!r}: {reply!r}" for s in expect.get("reply_not", []) if s.lower() in reply
    ]

    others = (await tools.call("list_tasks", user_id=other, status="all"))["tasks"]
    if [(t["title"], t["completed"]) for t in others] != [(OTHER_TITLE, False)]:
        outcome.problems.append("the other user's task changed")
    return outcome


async def evaluate(path: Path, *, url: str, mcp_url: str | None, concurrency: int) -> list[Outcome]:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    settings = get_settings()
    limit = asyncio.Semaphore(concurrency)
    async with (
        httpx2.AsyncClient(base_url=url, timeout=120) as http,
        Tools(mcp_url, settings.mcp_service_token) as tools,
    ):

        async def one(case: dict[str, Any]) -> Outcome:
            async with limit:
                try:
                    return await run_case(case, http=http, tools=tools)
                except Exception as exc:  # a broken case is a miss, not the end of the run
                    return Outcome(case["id"], [f"error: {type(exc).__name__}: {exc}"])

        return list(await asyncio.gather(*(one(case) for case in cases)))


def run(args: argparse.Namespace) -> None:
    from common.errors import ConfigError

    try:  # each case signs in as a fresh user, with a development token
        mint_token(get_settings(), "eval")
    except ConfigError as exc:
        sys.exit(f"taskchat eval: {exc}")
    outcomes = asyncio.run(
        evaluate(Path(args.file), url=args.url, mcp_url=args.mcp_url, concurrency=args.concurrency)
    )
    misses = [o for o in outcomes if o.problems]
    for outcome in misses:
        print(f"MISS {outcome.case_id}")
        for problem in outcome.problems:
            print(f"     {problem}")
    passed = len(outcomes) - len(misses)
    accuracy = passed / len(outcomes) if outcomes else 0.0
    print(f"{passed}/{len(outcomes)} cases passed — accuracy {accuracy:.1%}")
    if accuracy < args.min_accuracy:
        sys.exit(1)
