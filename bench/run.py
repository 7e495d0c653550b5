"""taskchat benchmarks: one command runs them all and prints a table (docs/performance.md).

    .venv/bin/python -m bench.run            # everything (about 3 minutes)
    .venv/bin/python -m bench.run idle conc  # some scenarios

Starts its own `taskchat api` and `taskchat worker` processes on a fresh `taskchat_bench` database and
its own Redis key prefix on the machine's PostgreSQL and Redis. Nothing here asserts: it measures.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "taskchat_bench"
PREFIX = f"taskchat-bench-{uuid.uuid4().hex[:6]}"
ENV = {
    **os.environ,
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "",  # a private redis-server, started by main(), so that its counters are ours alone
    "REDIS_PREFIX": PREFIX,
    "LLM_PROVIDER": "offline",
    "TASKCHAT_HOME": f"/tmp/{PREFIX}",
    "LOG_LEVEL": "WARNING",
    "MAX_INFLIGHT_RUNS_PER_USER": "1000",
}
TASKCHAT = [sys.executable, "-m", "common.cli"]
results: list[tuple[str, str]] = []


def report(name: str, value: str) -> None:
    results.append((name, value))
    print(f"  {name:<58} {value}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    subprocess.run([*TASKCHAT, "migrate"], env=ENV, check=True, capture_output=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def stack(*, threads: int = 64, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    env = {**ENV, **(env or {})}
    port = free_port()
    worker = subprocess.Popen(
        [
            *TASKCHAT,
            "worker",
            "--processes",
            "1",
            "--threads",
            str(threads),
            "--metrics-port",
            str(free_port()),
        ],
        env=env,
    )
    api = subprocess.Popen([*TASKCHAT, "api", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
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
    try:
        yield url, api, worker
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            process.wait(timeout=30)


def token(user: str) -> str:
    from common.devkeys import mint_token
    from common.settings import Settings

    return mint_token(Settings(_env_file=None, taskchat_home=ENV["TASKCHAT_HOME"]), user)


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    parent = psutil.Process(process.pid)
    total = 0.0
    for p in [parent, *parent.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(process: subprocess.Popen[bytes]) -> float:
    parent = psutil.Process(process.pid)
    return max((p.memory_info().rss for p in [parent, *parent.children(recursive=True)]), default=0) / 2**20


class Client:
    def __init__(self, url: str, connections: int = 700) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=120,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self.tokens: dict[str, str] = {}

    async def chat(
        self, user: str, message: str, conversation_id: int | None = None
    ) -> tuple[float, dict[str, Any]]:
        if user not in self.tokens:
            self.tokens[user] = token(user)
        started = time.perf_counter()
        response = await self.http.post(
            f"/api/{user}/chat",
            json={"message": message, "conversation_id": conversation_id},
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        return elapsed, response.json()

    async def close(self) -> None:
        await self.http.aclose()


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
    with stack() as (url, _, _):
        client = Client(url)
        user = f"idle-{uuid.uuid4().hex[:6]}"

        async def over_queue() -> float:
            return (await client.chat(user, "Add a task to buy milk"))[0]

        queued = await sequential(over_queue)
        await client.close()
    inproc = await in_process_turns()
    report("chat over HTTP + queue: p50 / p99 ms", f"{statistics.median(queued):.1f} / {pct(queued, 99):.1f}")
    report(
        "same turn in-process, no queue: p50 / p99 ms",
        f"{statistics.median(inproc):.1f} / {pct(inproc, 99):.1f}",
    )
    report(
        "queue round trip / in-process (p50)", f"{statistics.median(queued) / statistics.median(inproc):.2f}×"
    )


async def in_process_turns() -> list[float]:
    """What a queue-less design pays: persist, run the agent, persist, in one process."""
    os.environ.update(
        {k: v for k, v in ENV.items() if k in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "LLM_PROVIDER")}
    )
    from api.schemas import ChatRequest
    from api.services.chat import chat_result, submit_message
    from common.settings import get_settings
    from worker.run import run_chat_job
    from worker.runtime import Runtime

    get_settings.cache_clear()
    rt = await Runtime.create(get_settings())
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


async def concurrency(
    levels: tuple[int, ...] = tuple(int(x) for x in os.environ.get("BENCH_LEVELS", "16,64").split(",")),
    per_client: int = 40,
) -> None:
    print("2. throughput (offline model, one API process, one worker process)")
    with stack(threads=128) as (url, api, worker):
        for level in levels:
            await _throughput(url, api, worker, level, per_client)


async def _throughput(
    url: str, api: subprocess.Popen[bytes], worker: subprocess.Popen[bytes], level: int, per_client: int
) -> None:
    client = Client(url)
    latencies: list[float] = []
    errors = 0

    async def virtual_user(n: int) -> None:
        nonlocal errors
        user = f"load-{level}-{n}-{uuid.uuid4().hex[:4]}"
        await client.chat(user, "hello")  # warm-up, token minted
        for i in range(per_client):
            try:
                latencies.append((await client.chat(user, f"Add a task to buy item {i}"))[0])
            except Exception:
                errors += 1

    api_cpu, worker_cpu = cpu_seconds(api), cpu_seconds(worker)
    started = time.perf_counter()
    await asyncio.gather(*(virtual_user(n) for n in range(level)))
    wall = time.perf_counter() - started
    chats = len(latencies) + level
    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    report(
        f"concurrency {level}: chats/s, p50 / p99 ms, errors",
        f"{chats / wall:.0f}/s, {p50:.1f} / {p99:.1f}, {errors}",
    )
    api_ms = (cpu_seconds(api) - api_cpu) * 1000 / chats
    worker_ms = (cpu_seconds(worker) - worker_cpu) * 1000 / chats
    report(f"concurrency {level}: CPU ms per chat, API / worker", f"{api_ms:.2f} / {worker_ms:.2f}")
    await client.close()


async def slow_model(chats: int = 500, delay_s: float = 3.0) -> None:
    print(
        f"3. slow model ({delay_s:.0f} s per model call, two calls per chat): {chats} chats at once, one worker process"
    )
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_model_server", "--port", str(port), "--delay", str(delay_s)]
    )
    env = {
        "LLM_PROVIDER": "gemini",
        "GEMINI_API_KEY": "test-key",
        "GEMINI_MODEL": "gemini-2.5-flash",
        "GEMINI_BASE_URL": f"http://127.0.0.1:{port}/v1beta/openai/",
        "CHAT_TIMEOUT_S": "120",
    }
    try:
        with stack(threads=chats + 16, env=env) as (url, api, worker):
            client = Client(url, connections=chats + 10)
            peak = rss_mb(worker)
            sampling = True

            async def sample() -> None:
                nonlocal peak
                while sampling:
                    peak = max(peak, rss_mb(worker))
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            users = [f"slow-{n}-{uuid.uuid4().hex[:4]}" for n in range(chats)]
            for user in users:
                client.tokens[user] = token(user)
            started = time.perf_counter()
            outcomes = await asyncio.gather(
                *(client.chat(u, "Add a slow task") for u in users), return_exceptions=True
            )
            wall = time.perf_counter() - started
            sampling = False
            await sampler
            failed = [o for o in outcomes if isinstance(o, Exception)]
            report(
                f"{chats} slow chats at once: wall s (ideal ≈ {2 * delay_s:.0f} s), failures",
                f"{wall:.2f} s, {len(failed)}",
            )
            report("worker RSS at the peak (largest process) MB", f"{peak:.0f}")
            if failed:
                print("   first failure:", failed[0])
            await client.close()
    finally:
        fake.terminate()
        fake.wait()


async def long_history(turns: int = 30) -> None:
    print("4. long history: turn latency in a conversation with 10 vs 10,000 prior messages")
    with stack() as (url, _, _):
        client = Client(url)
        p50s = {}
        for prior in (10, 10_000):
            user = f"hist-{prior}-{uuid.uuid4().hex[:4]}"
            conversation = seed_conversation(user, prior)
            samples = []
            for i in range(5 + turns):
                elapsed, _ = await client.chat(user, f"Add a task to read chapter {i}", conversation)
                if i >= 5:
                    samples.append(elapsed)
                await asyncio.sleep(0.05)
            p50s[prior] = statistics.median(samples)
            report(f"{prior:>6} prior messages: p50 ms", f"{p50s[prior]:.1f}")
        report("10,000 / 10 (p50)", f"{p50s[10_000] / p50s[10]:.2f}×")
        await client.close()


def seed_conversation(user: str, messages: int) -> int:
    """Bulk-insert `messages` finished turns' worth of history (half questions, half answers)."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}", autocommit=False) as conn:
        conversation = conn.execute(
            "INSERT INTO conversation (user_id, created_at, updated_at) VALUES (%s, now(), now()) RETURNING id",
            (user,),
        ).fetchone()[0]
        conn.execute(
            """
            WITH q AS (
              INSERT INTO message (user_id, conversation_id, role, content, created_at)
              SELECT %(u)s, %(c)s, 'user', 'question ' || n, now() FROM generate_series(1, %(t)s) n RETURNING id),
            a AS (
              INSERT INTO message (user_id, conversation_id, role, content, created_at)
              SELECT %(u)s, %(c)s, 'assistant', 'answer ' || n, now() FROM generate_series(1, %(t)s) n RETURNING id)
            INSERT INTO run (user_id, conversation_id, user_message_id, assistant_message_id, status, attempts, created_at)
            SELECT %(u)s, %(c)s, q.id, a.id, 'succeeded', 1, now()
            FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM q) q
            JOIN (SELECT id, row_number() OVER (ORDER BY id) r FROM a) a USING (r)
            """,
            {"u": user, "c": conversation, "t": messages // 2},
        )
        conn.commit()
        return int(conversation)


async def sse(turns: int = 30) -> None:
    print("6. streaming: POST to the `run` event, and what relaying adds to each event")
    import json as jsonlib

    import redis.asyncio as aredis

    with stack() as (url, _, _):
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
    )
    ENV["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    print(f"taskchat bench — {os.cpu_count()} CPUs, database {DB}, private Redis on port {redis_port}\n")
    try:
        fresh_database()
        for name in chosen:
            outcome = SCENARIOS[name]()
            if asyncio.iscoroutine(outcome):
                asyncio.run(outcome)
    finally:
        redis_server.terminate()
    print("\n| measure | value |\n|---|---|")
    for name, value in results:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
