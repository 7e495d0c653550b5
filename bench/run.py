"""taskchat benchmarks: one command runs them all and prints a table (docs/performance.md).

    .venv/bin/python -m bench.run            # everything (about ten minutes)
    .venv/bin/python -m bench.run idle conc  # some: idle conc slow history redis sse floor layer quota
                                             # nopace locust reminders burst burst-lost

Starts its own `taskchat api` and `taskchat worker` processes (one of each) on a fresh `taskchat_bench`
database (`BENCH_DATABASE` names another, so that two benches on one machine do not drop each other's) of
the machine's PostgreSQL and a private `redis-server`, so that Redis's counters are ours.
Nothing here asserts: it measures. CPU is reported per chat and per process (API, worker, PostgreSQL,
Redis, the fake model, this load generator), because on two shared cores CPU is what bounds throughput
and what transfers to other machines; `calibration` says how fast this machine's Python was meanwhile.
"""

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil

from bench.wire import Connection

DB = os.environ.get("BENCH_DATABASE", "taskchat_bench")  # another name: a bench of its own
PREFIX = f"taskchat-bench-{uuid.uuid4().hex[:6]}"
ENV = {
    **os.environ,
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "",  # a private redis-server, started by main()
    "REDIS_PREFIX": PREFIX,
    "LLM_PROVIDER": "offline",
    "TASKCHAT_HOME": f"/tmp/{PREFIX}",
    "TASKCHAT_ENV": "development",  # the local key set: the bench mints a token per simulated user
    "LOG_LEVEL": "WARNING",
    "MAX_INFLIGHT_RUNS_PER_USER": "1000",
}
TASKCHAT = [sys.executable, "-m", "taskchat.cli"]
results: list[tuple[str, str]] = []
processes: dict[str, list[psutil.Process]] = {}  # role -> processes whose CPU is that role's


def report(name: str, value: str) -> None:
    results.append((name, value))
    print(f"  {name:<64} {value}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def calibration_ms() -> float:
    """A fixed pure-Python workload (best of five): this shared VM's speed drifts by up to 2x."""

    def work() -> float:
        started = time.process_time()
        table: dict[int, int] = {}
        for n in range(300_000):
            table[n % 1000] = table.get(n % 1000, 0) + n
        return (time.process_time() - started) * 1000

    return min(work() for _ in range(5))


def fresh_database() -> None:
    subprocess.run(["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    subprocess.run([*TASKCHAT, "migrate"], env=ENV, check=True, capture_output=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def stack(*, threads: int | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """One `taskchat api` and one `taskchat worker --processes 1` (its defaults unless told)."""
    env = {**ENV, **(env or {})}
    port = free_port()
    extra = ["--threads", str(threads)] if threads else []
    # Sessions of their own, like Redis's (main()): a Ctrl-C reaches only this script, which stops them
    # before Redis.
    worker = subprocess.Popen(
        [*TASKCHAT, "worker", "--processes", "1", *extra, "--metrics-port", str(free_port())],
        env=env,
        start_new_session=True,
    )
    api = subprocess.Popen([*TASKCHAT, "api", "--port", str(port)], env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("stack did not start")
        time.sleep(0.2)
    time.sleep(2)  # the worker warms its runtime at boot
    if worker.poll() is not None:
        raise RuntimeError("the worker exited")
    processes["api"] = [psutil.Process(api.pid)]
    processes["worker"] = _tree(worker.pid)
    try:
        yield url
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            try:
                process.wait(timeout=45)  # a worker exits within WORKER_SHUTDOWN_GRACE_S (30 s)
            except subprocess.TimeoutExpired:  # an API still holding requests that wait for their runs
                os.killpg(process.pid, signal.SIGKILL)  # the group: a worker's processes with it
                process.wait()
        processes.pop("api"), processes.pop("worker")


def _tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def cpu_by_role() -> dict[str, float]:
    """CPU seconds so far of each role's processes (PostgreSQL: every postgres process on the machine)."""
    roles = {
        **processes,
        "postgres": [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"],
    }
    totals = {}
    for role, members in roles.items():
        total = 0.0
        for process in members:
            try:
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.NoSuchProcess:
                pass
        totals[role] = total
    totals["load generator"] = sum(os.times()[:2])
    return totals


def cpu_report(label: str, before: dict[str, float], chats: int, unit: str = "chat") -> None:
    after = cpu_by_role()
    parts = [f"{role} {(after[role] - before.get(role, 0)) * 1000 / chats:.2f}" for role in after]
    report(f"{label}: CPU ms per {unit}", ", ".join(parts))


def rss_mb(role: str) -> float:
    sizes = []
    for process in processes.get(role, []):
        try:
            sizes.append(process.memory_info().rss)
        except psutil.NoSuchProcess:
            pass
    return max(sizes, default=0) / 2**20


def token(user: str) -> str:
    from common.devkeys import mint_token
    from common.settings import Settings

    settings = Settings(_env_file=None, taskchat_home=ENV["TASKCHAT_HOME"], taskchat_env="development")
    return mint_token(settings, user)


class User:
    """A client of the chat endpoint with its own token and keep-alive connection."""

    def __init__(self, url: str, name: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.name, self.connection = name, Connection(host, int(port))
        self.headers = {"Authorization": f"Bearer {token(name)}"}

    async def chat(self, message: str, conversation_id: int | None = None) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        status, body = await self.connection.post_json(
            f"/api/{self.name}/chat", {"message": message, "conversation_id": conversation_id}, self.headers
        )
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {str(body)[:200]}")
        return elapsed, body

    async def close(self) -> None:
        await self.connection.close()


async def sequential(
    turn: Callable[[], Awaitable[float]], *, n: int = 40, warmup: int = 5, gap_s: float = 0.3
) -> list[float]:
    for _ in range(warmup):
        await turn()
        await asyncio.sleep(gap_s)
    samples = []
    for _ in range(n):
        samples.append(await turn())
        await asyncio.sleep(gap_s)
    return samples


# --- scenarios ----------------------------------------------------------------------------------


async def idle() -> None:
    print("1. idle round trip (offline model, one add_task call, 0.3 s between requests)")
    with stack() as url:
        user = User(url, f"idle-{uuid.uuid4().hex[:6]}")
        queued = await sequential(lambda: _elapsed(user.chat("Add a task to buy milk")))
        await user.close()
    inproc = await in_process_turns()
    report("chat over HTTP + queue: p50 / p99 ms", f"{statistics.median(queued):.1f} / {pct(queued, 99):.1f}")
    report(
        "same turn in-process, no queue: p50 / p99 ms",
        f"{statistics.median(inproc):.1f} / {pct(inproc, 99):.1f}",
    )
    report(
        "queue round trip / in-process (p50)", f"{statistics.median(queued) / statistics.median(inproc):.2f}×"
    )


async def _elapsed(chat: Awaitable[tuple[float, Any]]) -> float:
    return (await chat)[0]


async def in_process_turns() -> list[float]:
    """What a queue-less design pays: persist, run the agent, read the answer, in one process."""
    from api.schemas import ChatRequest
    from api.services.chat import chat_result, submit_message
    from worker.run import run_chat_job

    rt = await _runtime()
    user = f"inproc-{uuid.uuid4().hex[:6]}"

    async def turn() -> float:
        started = time.perf_counter()
        run, _ = await submit_message(
            rt.db,
            user_id=user,
            request=ChatRequest(message="Add a task to buy milk"),
            idempotency_key=None,
            max_inflight=1000,
        )
        await run_chat_job(rt, run.id or 0)
        await chat_result(rt.db, run_id=run.id or 0, user_id=user)
        return (time.perf_counter() - started) * 1000

    samples = await sequential(turn)
    await rt.close()
    return samples


async def _runtime() -> Any:
    os.environ.update(
        {k: v for k, v in ENV.items() if k in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "LLM_PROVIDER")}
    )
    from common.settings import get_settings
    from worker.runtime import Runtime

    get_settings.cache_clear()
    return await Runtime.create(get_settings())


async def concurrency(levels: tuple[int, ...] = (16, 64), seconds: float = 20.0) -> None:
    print("2. throughput (offline model, one API process, one worker process)")
    with stack() as url:
        for level in levels:
            await _throughput(url, level, seconds)


async def _throughput(url: str, level: int, seconds: float) -> None:
    users = [User(url, f"load-{level}-{n}-{uuid.uuid4().hex[:4]}") for n in range(level)]
    await asyncio.gather(*(u.chat("hello") for u in users))  # connections open, runtime warm
    latencies: list[float] = []
    errors = 0

    async def virtual_user(user: User) -> None:
        nonlocal errors
        i = 0
        while time.perf_counter() < stop:
            try:
                latencies.append((await user.chat(f"Add a task to buy item {i}"))[0])
            except Exception:
                errors += 1
            i += 1

    before = cpu_by_role()
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(virtual_user(u) for u in users))
    wall = time.perf_counter() - started
    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    report(
        f"concurrency {level}: chats/s, p50 / p99 ms, errors",
        f"{len(latencies) / wall:.0f}/s, {p50:.1f} / {p99:.1f}, {errors}",
    )
    cpu_report(f"concurrency {level}", before, len(latencies) + errors)
    await asyncio.gather(*(u.close() for u in users))


async def slow_model(chats: int = 500, delay_s: float = 3.0) -> None:
    print(f"3. slow model ({delay_s:.0f} s per model call, two calls per chat): {chats} chats at once")
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bench.wire", "--port", str(port), "--delay", str(delay_s)]
    )
    processes["fake model"] = [psutil.Process(fake.pid)]
    env = {
        "LLM_PROVIDER": "gemini",
        "GEMINI_API_KEY": "test-key",
        "GEMINI_MODEL": "gemini-2.5-flash",
        "GEMINI_BASE_URL": f"http://127.0.0.1:{port}/v1beta/openai/",
        "CHAT_TIMEOUT_S": "120",
    }
    try:
        with stack(env=env) as url:
            users = [User(url, f"slow-{n}-{uuid.uuid4().hex[:4]}") for n in range(chats)]
            peak = rss_mb("worker")
            sampling = True

            async def sample() -> None:
                nonlocal peak
                while sampling:
                    peak = max(peak, rss_mb("worker"))
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            before = cpu_by_role()
            started = time.perf_counter()

            async def one(user: User) -> float:
                await user.chat("Add a slow task")
                return time.perf_counter() - started

            outcomes = await asyncio.gather(*(one(u) for u in users), return_exceptions=True)
            wall = time.perf_counter() - started
            sampling = False
            await sampler
            done = sorted(o for o in outcomes if isinstance(o, float))
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            report(
                f"{chats} slow chats at once: wall s (ideal ≈ {2 * delay_s:.0f} s), failures",
                f"{wall:.2f} s, {len(failed)}",
            )
            if done:
                report(
                    "  answers landed after: first / median / last s",
                    f"{done[0]:.2f} / {statistics.median(done):.2f} / {done[-1]:.2f}",
                )
            cpu_report("slow model", before, chats)
            _model_call_timeline(port, started)
            report("worker RSS at the peak (largest process) MB", f"{peak:.0f}")
            if failed:
                print("   first failure:", failed[0])
            await asyncio.gather(*(u.close() for u in users))
    finally:
        processes.pop("fake model", None)
        fake.terminate()
        fake.wait()


def _model_call_timeline(port: int, started: float) -> None:
    """When the fake model received each chat's first and second call, counted from the burst's start
    (time.perf_counter and time.monotonic are the same clock on Linux)."""
    arrivals = httpx.get(f"http://127.0.0.1:{port}/stats").json()["arrivals"]
    offset = started - time.perf_counter() + time.monotonic()
    for second, label in ((False, "first"), (True, "second")):
        times = sorted(at - offset for at, after_tool in arrivals if after_tool is second)
        if times:
            report(
                f"  {label} model calls arrived: first / median / last s",
                f"{times[0]:.2f} / {statistics.median(times):.2f} / {times[-1]:.2f}",
            )


async def long_history(turns: int = 30) -> None:
    print("4. long history: turn latency in a conversation with 10 vs 10,000 prior messages")
    with stack() as url:
        p50s = {}
        for prior in (10, 10_000):
            user = User(url, f"hist-{prior}-{uuid.uuid4().hex[:4]}")
            conversation = seed_conversation(user.name, prior)
            samples = []
            for i in range(5 + turns):
                elapsed, _ = await user.chat(f"Add a task to read chapter {i}", conversation)
                if i >= 5:
                    samples.append(elapsed)
                await asyncio.sleep(0.05)
            p50s[prior] = statistics.median(samples)
            report(f"{prior:>6} prior messages: p50 ms", f"{p50s[prior]:.1f}")
            await user.close()
        report("10,000 / 10 (p50)", f"{p50s[10_000] / p50s[10]:.2f}×")


async def floor(runs: int = 200) -> None:
    """What the Agents SDK alone costs per run: the offline model, one trivial function tool, no
    database, Redis, MCP or HTTP. No design around the SDK can make a chat cheaper than this."""
    print("7. the floor: one two-turn Agents SDK run alone")
    import json

    from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_disabled

    from worker.offline import OfflineModel
    from worker.prompts import INSTRUCTIONS

    set_tracing_disabled(True)

    @function_tool
    def add_task(title: str, description: str | None = None) -> str:
        """Create a task."""
        return json.dumps({"id": 1, "title": title, "description": description, "completed": False})

    agent = Agent(
        name="floor",
        instructions=INSTRUCTIONS,
        model=OfflineModel(),
        tools=[add_task],
        model_settings=ModelSettings(temperature=0.2),
    )
    history = [{"role": "user", "content": "Add a task to buy milk"}]
    samples = []
    for n in range(runs + 20):
        started = time.process_time()
        await Runner.run(agent, history, run_config=RunConfig(tracing_disabled=True))
        if n >= 20:
            samples.append((time.process_time() - started) * 1000)
    report("Agents SDK alone, one two-turn run: CPU ms p50", f"{statistics.median(samples):.2f}")


async def data_layer(calls: int = 1000) -> None:
    """What the data layer costs: the chat's statements through `common.db` (SQLAlchemy Core on the
    SQLModel tables, one greenlet hop each) against the same compiled SQL on the pool's own driver
    connection; and what one tool call costs in-process (its effect and ledger row in one transaction)."""
    print("8. the data layer: CPU per statement and per tool call")
    from api.schemas import ChatRequest
    from api.services.chat import _RESULT, _SUBMIT, submit_message
    from mcp_tools.ledger import META_CALL_KEY, META_RUN_ID, META_STEPS
    from mcp_tools.server import call_in_process

    rt = await _runtime()
    user = f"layer-{uuid.uuid4().hex[:6]}"
    run, _ = await submit_message(
        rt.db, user_id=user, request=ChatRequest(message="x"), idempotency_key=None, max_inflight=10**6
    )
    submit = {"p_user_id": user, "p_conversation_id": None, "p_content": "x", "p_key": None}
    submit |= {"p_timezone": None, "max_inflight": 10**6}
    result = {"run_id": run.id, "p_user_id": user}

    async def cpu_us(call: Callable[[], Awaitable[Any]]) -> float:
        for _ in range(50):
            await call()
        best = []
        for _ in range(3):
            started = time.process_time()
            for _ in range(calls):
                await call()
            best.append((time.process_time() - started) / calls * 1e6)
        return min(best)

    async with rt.db.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.set_autocommit(True)
        extra = 0.0
        for name, statement, params in (("submit", _SUBMIT, submit), ("read-back", _RESULT, result)):
            compiled = statement.compile(dialect=rt.db.engine.dialect)
            sql, bound = str(compiled), compiled.construct_params(params)

            async def raw(sql: str = sql, bound: dict[str, Any] = bound) -> None:
                await (await driver.execute(sql, bound)).fetchall()

            layered = await cpu_us(lambda statement=statement, params=params: rt.db.one(statement, params))
            plain = await cpu_us(raw)
            extra += layered - plain
            report(
                f"{name}: CPU µs through common.db / on the driver, same SQL", f"{layered:.0f} / {plain:.0f}"
            )
        report("what the layer adds per statement (mean of the two)", f"{extra / 2:.0f} µs")

    counter = iter(range(10**9))

    async def tool(name: str, arguments: dict[str, Any]) -> None:
        meta = {META_RUN_ID: run.id, META_CALL_KEY: f"bench:{next(counter)}"}
        result = await call_in_process(name, {"user_id": user, **arguments}, meta)
        assert not result.is_error, result.content

    add = await cpu_us(lambda: tool("add_task", {"title": "Buy milk"}))
    dated = await cpu_us(
        lambda: tool(
            "add_task", {"title": "Call mom", "due_at": "2030-01-01T17:00:00+01:00", "tags": ["family"]}
        )
    )
    listing = await cpu_us(lambda: tool("list_tasks", {"status": "pending", "sort": "due", "limit": 20}))
    report("tool call, add_task (effect + ledger row): CPU µs", f"{add:.0f}")
    report("tool call, add_task with due date and tags: CPU µs", f"{dated:.0f}")
    report("tool call, list_tasks (20 of the user's tasks, by due date): CPU µs", f"{listing:.0f}")

    # What a run pays to be replayable: its model step rides with the step's first tool call.
    from worker.offline.model import _call
    from worker.replay import dump

    step = dump([_call("add_task", {"title": "Buy milk"})])
    steps = iter(range(10**9))

    async def add_with_step() -> None:
        meta = {META_RUN_ID: run.id, META_CALL_KEY: f"bench:{next(counter)}"}
        meta[META_STEPS] = [{"step": next(steps), "output": step}]
        result = await call_in_process("add_task", {"user_id": user, "title": "Buy milk"}, meta)
        assert not result.is_error, result.content

    carried = await cpu_us(add_with_step)
    report("tool call, add_task carrying its model step (replay record): CPU µs", f"{carried:.0f}")
    await rt.close()


def seed_conversation(user: str, messages: int) -> int:
    """Bulk-insert `messages` finished turns' worth of history (half questions, half answers)."""
    from sqlalchemy import create_engine, insert

    from common.models import Conversation, Message, Role, Run, RunStatus

    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}")
    turns = messages // 2
    with engine.begin() as conn:
        conversation = conn.execute(
            insert(Conversation).values(user_id=user).returning(Conversation.id)
        ).scalar_one()

        def add(role: Role, text: str) -> list[int]:
            rows = [
                {"user_id": user, "conversation_id": conversation, "role": role, "content": f"{text} {n}"}
                for n in range(turns)
            ]
            statement = insert(Message).returning(Message.id, sort_by_parameter_order=True)
            return list(conn.execute(statement, rows).scalars())

        questions, answers = add(Role.user, "question"), add(Role.assistant, "answer")
        runs = [
            {
                "user_id": user,
                "conversation_id": conversation,
                "user_message_id": question,
                "assistant_message_id": answer,
                "status": RunStatus.succeeded,
                "attempts": 1,
            }
            for question, answer in zip(questions, answers, strict=True)
        ]
        conn.execute(insert(Run), runs)
    engine.dispose()
    return int(conversation)


async def sse(turns: int = 30) -> None:
    print("6. streaming: POST to the `run` event, and what relaying adds to each event")
    import json as jsonlib

    import redis.asyncio as aredis

    with stack() as url:
        user = f"sse-{uuid.uuid4().hex[:6]}"
        headers = {"Authorization": f"Bearer {token(user)}", "Accept": "text/event-stream"}
        direct = aredis.Redis.from_url(ENV["REDIS_URL"])
        pubsub = direct.pubsub()
        await pubsub.psubscribe(f"{PREFIX}:run:*")
        seen: dict[tuple[int, int], float] = {}  # (run, event id) -> when Redis delivered it to us

        async def watch() -> None:
            async for message in pubsub.listen():
                if message["type"] == "pmessage":
                    run_id = int(message["channel"].decode().rsplit(":", 1)[1])
                    seen[(run_id, int(jsonlib.loads(message["data"])["id"]))] = time.perf_counter()

        watcher = asyncio.create_task(watch())
        to_run_event, added = [], []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for i in range(5 + turns):
                started = time.perf_counter()
                body = {"message": f"Add a task to stream test {i}"}
                arrivals: list[tuple[int, float]] = []
                run_id = 0
                async with http.stream("POST", f"/api/{user}/chat", json=body, headers=headers) as response:
                    event_id = None
                    async for line in response.aiter_lines():
                        if line.startswith("id:"):
                            event_id = int(line[3:].strip())
                        elif line.startswith("data:") and event_id is not None:
                            now = time.perf_counter()
                            if event_id == 0:
                                run_id = jsonlib.loads(line[5:])["run_id"]
                                if i >= 5:
                                    to_run_event.append((now - started) * 1000)
                            else:
                                arrivals.append((event_id, now))
                await asyncio.sleep(0.05)
                if i >= 5:
                    added += [(at - seen[(run_id, n)]) * 1000 for n, at in arrivals if (run_id, n) in seen]
                await asyncio.sleep(0.25)
        watcher.cancel()
        await pubsub.aclose()
        await direct.aclose()
    report(
        "POST to `run` event: p50 / p99 ms",
        f"{statistics.median(to_run_event):.1f} / {pct(to_run_event, 99):.1f}",
    )
    report(
        "added latency per relayed event (SSE vs a direct Redis subscriber): p50 / p99 ms",
        f"{statistics.median(added):.2f} / {pct(added, 99):.2f} ({len(added)} events)",
    )


@contextmanager
def quota_model(rpm: int, delay_s: float) -> Iterator[dict[str, str]]:
    """`bench.wire`'s fake model with Gemini's per-minute quota, and the stack settings that use it."""
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bench.wire", "--port", str(port), "--delay", str(delay_s), "--rpm", str(rpm)]
    )
    processes["fake model"] = [psutil.Process(fake.pid)]
    try:
        yield {
            "LLM_PROVIDER": "gemini",
            "GEMINI_API_KEY": "test-key",
            "GEMINI_MODEL": "gemini-2.5-flash",
            "GEMINI_BASE_URL": f"http://127.0.0.1:{port}/v1beta/openai/",
            "GEMINI_RPM": str(rpm),
            "CHAT_TIMEOUT_S": "300",
            "STATS_URL": f"http://127.0.0.1:{port}/stats",
        }
    finally:
        processes.pop("fake model", None)
        fake.terminate()
        fake.wait()


async def quota(chats: int = 120, rpm: int = 120, delay_s: float = 0.5, paced: bool = True) -> None:
    calls = 2 * chats
    how = "GEMINI_RPM set to it" if paced else "no GEMINI_RPM (429s and their retryDelay only)"
    print(f"8. Gemini's quota: {chats} chats ({calls} model calls) at once against a {rpm} RPM quota, {how}")
    with quota_model(rpm, delay_s) as env, stack(env=env if paced else _without(env, "GEMINI_RPM")) as url:
        users = [User(url, f"quota-{n}-{uuid.uuid4().hex[:4]}") for n in range(chats)]
        before = cpu_by_role()
        started = time.perf_counter()

        async def one(n: int, user: User) -> bool:
            _, answer = await user.chat(f"Add a task to water plant {n}")
            return answer["response"] == f"Added “water plant {n}”."  # not a "Sorry — …"

        outcomes = await asyncio.gather(*(one(n, u) for n, u in enumerate(users)), return_exceptions=True)
        wall = time.perf_counter() - started
        cpu_report("quota", before, chats)
        stats = httpx.get(env["STATS_URL"]).json()
        await asyncio.gather(*(u.close() for u in users))
    failed = [o for o in outcomes if o is not True]
    sent = stats["calls"] + stats["limited"]
    # The quota lets `rpm` calls through in any minute: all but the last `rpm` calls go in earlier minutes,
    # and the last one still takes a model call.
    floor = 60 * ((calls - 1) // rpm) + delay_s
    label = "" if paced else ", unpaced"
    report(f"{chats} chats against {rpm} RPM{label}: failed chats", f"{len(failed)}")
    report(
        "provider 429s: count, % of model calls sent",
        f"{stats['limited']} of {sent}, {100 * stats['limited'] / max(sent, 1):.1f}%",
    )
    report(f"wall s vs the quota's floor ({floor:.1f} s)", f"{wall:.1f} s, {100 * (wall / floor - 1):+.1f}%")
    if failed:
        print("   first failure:", failed[0])


def _without(env: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in env.items() if key != name}


def locust_quota(users: int = 20, seconds: int = 90, rpm: int = 120, delay_s: float = 0.5) -> None:
    print(f"9. locust: {users} users for {seconds} s against a {rpm} RPM quota (tests/load/locust_quota.py)")
    import json

    with quota_model(rpm, delay_s) as env, stack(env=env) as url:
        run = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "locust"),
                "-f",
                "tests/load/locust_quota.py",
                "--headless",
                "-u",
                str(users),
                "-r",
                "5",
                "-t",
                f"{seconds}s",
                "--host",
                url,
                "--stop-timeout",  # users finish the chat they are in: it counts
                "180",
                "--json",
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env={**ENV, **env},
            capture_output=True,
            text=True,
        )
        stats = httpx.get(env["STATS_URL"]).json()
    try:
        entries = json.loads(run.stdout)
    except ValueError:
        print(run.stdout[-2000:], run.stderr[-2000:])
        raise
    chats = [e for e in entries if e["name"].startswith("chat")]
    requests = sum(e["num_requests"] for e in entries)
    failures = sum(e["num_failures"] for e in entries)
    answered = sum(e["num_requests"] for e in chats)
    slowest = max((e["max_response_time"] for e in chats), default=0) / 1000
    report("locust against the quota: requests, failures", f"{requests}, {failures}")
    report("  chats answered; the slowest, s", f"{answered}; {slowest:.1f}")
    sent = stats["calls"] + stats["limited"]
    report("  provider 429s, % of model calls", f"{stats['limited']} of {sent}")
    if failures:
        print(run.stderr[-2000:])


def _settings() -> Any:
    from common.settings import Settings

    return Settings(
        _env_file=None, database_url=ENV["DATABASE_URL"], redis_url=ENV["REDIS_URL"], redis_prefix=PREFIX
    )


async def reminders_on_time(count: int = 80, spacing_s: float = 0.37) -> None:
    """Reminders set through the tools (as the agent does), due one after another: how long after its
    time each one's message is in the conversation (`delivered_at - remind_at`, both PostgreSQL's clock)."""
    print(f"8. reminders on time: {count} reminders, {spacing_s} s apart, one worker process")
    import redis.asyncio as aredis
    from sqlalchemy import select

    from common.db import Database
    from common.models import Reminder
    from common.userevents import AfterCommit
    from mcp_tools.server import bind_database, call_in_process

    settings = _settings()
    with stack():
        db, client = Database(settings), aredis.Redis.from_url(settings.redis_url)
        bind_database(db, AfterCommit(client, settings))
        user = f"ontime-{uuid.uuid4().hex[:6]}"
        first = datetime.now(UTC) + timedelta(seconds=3)
        for n in range(count):
            at = first + timedelta(seconds=n * spacing_s)
            arguments = {"user_id": user, "title": f"Reminder {n}", "remind_at": at.isoformat()}
            assert not (await call_in_process("add_task", arguments, {})).is_error
        rows = await _delivered(
            db, select(Reminder.remind_at, Reminder.delivered_at).where(Reminder.user_id == user), count
        )
        await client.aclose()
        await db.close()
    late = [(row["delivered_at"] - row["remind_at"]).total_seconds() * 1000 for row in rows]
    report(
        f"{len(late)} of {count} delivered; after their time: p50 / p99 / max ms",
        f"{statistics.median(late):.0f} / {pct(late, 99):.0f} / {max(late):.0f}",
    )


async def _delivered(db: Any, statement: Any, count: int, timeout_s: float = 600.0) -> list[Any]:
    """The rows of `statement` (reminders) once all `count` of them are delivered (or at the timeout)."""
    from sqlalchemy import func, select

    from common.models import Reminder

    done = select(func.count()).select_from(statement.where(Reminder.delivered_at.is_not(None)).subquery())
    deadline = time.monotonic() + timeout_s
    while await db.scalar(done) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    return [row for row in await db.all(statement) if row["delivered_at"] is not None]


async def reminders_burst(count: int = 10_000, users: int = 1_000, lost: bool = False) -> None:
    """`count` reminders of `users` users, all due at the same instant (everyone said "at 9"): how long one
    worker process takes to deliver them all. With `lost`, Redis lost their messages (restarted without
    persistence): the sweeper finds them instead."""
    label = "messages lost, found by the sweeper" if lost else "delayed messages"
    print(f"9. reminders burst: {count:,} reminders due at one instant, one worker process ({label})")
    import redis.asyncio as aredis
    from sqlalchemy import create_engine, func, insert, select

    from common.db import Database
    from common.models import Reminder, ReminderStatus, Task
    from common.userevents import AfterCommit

    settings = _settings()
    with stack():
        prefix = f"burst-{uuid.uuid4().hex[:6]}"
        engine = create_engine(ENV["DATABASE_URL"])
        due = datetime.now(UTC) + timedelta(seconds=30)
        with engine.begin() as conn:
            tasks = (
                conn.execute(
                    insert(Task).returning(Task.id, sort_by_parameter_order=True),
                    [{"user_id": f"{prefix}-{n % users}", "title": f"Burst {n}"} for n in range(count)],
                )
                .scalars()
                .all()
            )
            reminders = (
                conn.execute(
                    insert(Reminder).returning(Reminder.id, sort_by_parameter_order=True),
                    [
                        {
                            "user_id": f"{prefix}-{n % users}",
                            "task_id": task_id,
                            "remind_at": due,
                            "status": ReminderStatus.pending,
                            "enqueued": True,
                        }
                        for n, task_id in enumerate(tasks)
                    ],  # fmt: skip
                )
                .scalars()
                .all()
            )
        engine.dispose()
        db, client = Database(settings), aredis.Redis.from_url(settings.redis_url)
        if not lost:
            sender = AfterCommit(client, settings)
            for start in range(0, len(reminders), 1000):
                await sender.schedule([(reminder_id, due) for reminder_id in reminders[start : start + 1000]])
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 1))
        before = cpu_by_role()
        statement = select(Reminder.remind_at, Reminder.delivered_at).where(
            func.starts_with(Reminder.user_id, prefix)
        )
        rows = await _delivered(db, statement, count)
        rss = rss_mb("worker")
        cpu_report(f"burst ({label})", before, count, unit="reminder")
        await client.aclose()
        await db.close()
    late = sorted((row["delivered_at"] - row["remind_at"]).total_seconds() for row in rows)
    report(
        f"{len(rows):,} of {count:,} delivered; the last after its time, s",
        f"{late[-1]:.1f} (p50 {statistics.median(late):.1f}, {len(rows) / max(late[-1], 0.001):.0f} per s)",
    )
    report("worker RSS afterwards (largest process) MB", f"{rss:.0f}")


def idle_redis_cost() -> None:
    print("5. idle cost on Redis of one worker process (commands per second)")
    import redis

    with stack():
        client = redis.Redis.from_url(ENV["REDIS_URL"])
        time.sleep(2)
        before = client.info("stats")["total_commands_processed"]
        time.sleep(10)
        after = client.info("stats")["total_commands_processed"]
        report(
            "Redis commands/s while idle (one API + one worker process)", f"{(after - before - 1) / 10:.1f}"
        )


SCENARIOS: dict[str, Callable[[], Any]] = {
    "idle": idle,
    "conc": concurrency,
    "slow": slow_model,
    "history": long_history,
    "redis": idle_redis_cost,
    "sse": sse,
    "floor": floor,
    "layer": data_layer,
    "quota": quota,
    "nopace": lambda: quota(paced=False),
    "locust": locust_quota,
    "reminders": reminders_on_time,
    "burst": reminders_burst,
    "burst-lost": lambda: reminders_burst(lost=True),
}


def main() -> None:
    chosen = sys.argv[1:] or list(SCENARIOS)
    redis_port = free_port()
    redis_server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        # Stopped last, after the workers (each stack() stops its own): a worker told to stop while Redis
        # is gone cannot acknowledge its messages. So a Ctrl-C must not reach it directly.
        start_new_session=True,
    )
    processes["redis"] = [psutil.Process(redis_server.pid)]
    ENV["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    print(f"taskchat bench — {os.cpu_count()} CPUs, database {DB}, private Redis on port {redis_port}\n")
    report("calibration: a fixed Python loop, ms (lower is a faster machine)", f"{calibration_ms():.1f}")
    try:
        fresh_database()
        for name in chosen:
            outcome = SCENARIOS[name]()
            if asyncio.iscoroutine(outcome):
                asyncio.run(outcome)
    finally:
        redis_server.terminate()
    report("calibration again, ms", f"{calibration_ms():.1f}")
    print("\n| measure | value |\n|---|---|")
    for name, value in results:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
