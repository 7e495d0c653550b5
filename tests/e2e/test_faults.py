"""Faults caused for real: a private redis-server stopped and started, a private PostgreSQL cluster
stopped and started, worker processes killed with SIGKILL. Count what was sent, answered and changed."""

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from common.devkeys import mint_token
from common.models import Message, Role, Run, RunStatus, Task, ToolCall
from tests.e2e.conftest import stop, taskchat
from tests.helpers import free_port, wait_for_http

PG_BIN = (
    Path("/usr/lib/postgresql")
    / (os.listdir("/usr/lib/postgresql")[0] if Path("/usr/lib/postgresql").exists() else "x")
    / "bin"
)


class PrivateRedis:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder, self.process = port, folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            if (
                subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode
                == 0
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(free_port(), tmp_path)
    redis.start()
    yield redis
    redis.stop()


def start_stack(env: dict[str, str], *, workers: int = 1) -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = free_port()
    processes = [taskchat("worker", "--processes", "1", "--threads", "16", env=env) for _ in range(workers)]
    processes.append(taskchat("api", "--host", "127.0.0.1", "--port", str(port), env=env))
    wait_for_http(f"http://127.0.0.1:{port}/healthz")
    return f"http://127.0.0.1:{port}", processes


async def wait_for(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.25)


class TestRedisOutage:
    async def test_redis_down_is_503_at_once_and_the_message_is_answered_once_it_is_back(
        self, settings, sessions, private_redis, user_id
    ) -> None:
        env = {
            "REDIS_URL": private_redis.url,
            "REDIS_PREFIX": f"{settings.redis_prefix}-r{uuid.uuid4().hex[:6]}",
            "SWEEP_QUEUED_AFTER_S": "2",
            "SWEEP_INTERVAL_S": "1",
        }
        url, processes = start_stack(env)
        headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
        try:
            async with httpx.AsyncClient(timeout=30, headers=headers) as http:
                ok = await http.post(f"{url}/api/{user_id}/chat", json={"message": "Add a task to pay rent"})
                assert ok.status_code == 200
                private_redis.stop()
                started = time.monotonic()
                down = await http.post(
                    f"{url}/api/{user_id}/chat",
                    json={
                        "message": "Add a task to call the bank",
                        "conversation_id": ok.json()["conversation_id"],
                    },
                )
                elapsed = time.monotonic() - started
                assert down.status_code == 503 and down.headers["retry-after"]
                assert down.json()["error"]["code"] == "unavailable"
                assert elapsed < 3.0
                assert (await http.get(f"{url}/readyz")).status_code == 503
                async with sessions() as s:
                    pending = (
                        await s.exec(
                            select(Run).where(Run.user_id == user_id, Run.status == RunStatus.queued)
                        )
                    ).all()
                assert len(pending) == 1  # the accepted message is kept

                private_redis.start()

                async def answered() -> bool:
                    async with sessions() as s:
                        run = await s.get(Run, pending[0].id)
                        return run.status == RunStatus.succeeded

                await wait_for(answered, timeout_s=45)
                await wait_for(lambda: _ready(http, url), timeout_s=10)
        finally:
            for process in processes:
                stop(process)
        async with sessions() as s:
            titles = sorted(
                t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()
            )
        assert titles == ["Call the bank", "Pay rent"]


class TestRedisRestartUnderLoad:
    async def test_every_accepted_message_is_answered_once(self, settings, sessions, private_redis) -> None:
        env = {
            "REDIS_URL": private_redis.url,
            "REDIS_PREFIX": f"{settings.redis_prefix}-l{uuid.uuid4().hex[:6]}",
            "OFFLINE_MODEL_DELAY_S": "0.5",
            "CHAT_TIMEOUT_S": "20",
            "SWEEP_QUEUED_AFTER_S": "2",
            "SWEEP_INTERVAL_S": "1",
        }
        url, processes = start_stack(env)
        users = [f"load-{uuid.uuid4().hex[:8]}" for _ in range(24)]
        try:
            async with httpx.AsyncClient(timeout=60) as http:

                async def chat(user: str, delay: float) -> int:
                    await asyncio.sleep(delay)
                    try:
                        response = await http.post(
                            f"{url}/api/{user}/chat",
                            json={"message": f"Add a task to call {user}"},
                            headers={"Authorization": f"Bearer {mint_token(settings, user)}"},
                        )
                        return response.status_code
                    except httpx.HTTPError:
                        return 0

                requests = [asyncio.create_task(chat(user, n * 0.1)) for n, user in enumerate(users)]
                await asyncio.sleep(0.8)
                private_redis.stop()  # mid-load: queued messages and in-flight events are lost
                await asyncio.sleep(1.5)
                private_redis.start()
                statuses = await asyncio.gather(*requests)

                async def all_answered() -> bool:
                    async with sessions() as s:
                        runs = (await s.exec(select(Run).where(col(Run.user_id).in_(users)))).all()
                    return all(r.status == RunStatus.succeeded for r in runs)

                await wait_for(all_answered, timeout_s=60)
        finally:
            for process in processes:
                stop(process)
        assert set(statuses) <= {200, 503, 504}, statuses
        async with sessions() as s:
            runs = (await s.exec(select(Run).where(col(Run.user_id).in_(users)))).all()
            questions = (
                await s.exec(
                    select(Message).where(col(Message.user_id).in_(users), Message.role == Role.user)
                )
            ).all()
            tasks = (await s.exec(select(Task).where(col(Task.user_id).in_(users)))).all()
        accepted = [s for s in statuses if s in (200, 504)]
        assert len(runs) == len(questions) >= len(accepted)  # every stored message has its run…
        assert all(r.status == RunStatus.succeeded and r.assistant_message_id for r in runs)  # …answered
        assert sorted(t.user_id for t in tasks) == sorted(r.user_id for r in runs)  # once each


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200


class TestKilledWorker:
    async def test_runs_in_flight_when_the_worker_is_killed_complete_exactly_once(
        self, settings, sessions
    ) -> None:
        env = {
            "REDIS_PREFIX": f"{settings.redis_prefix}-k{uuid.uuid4().hex[:6]}",
            "OFFLINE_MODEL_DELAY_S": "1.5",
            "CHAT_TIMEOUT_S": "60",
        }
        url, processes = start_stack(env)
        users = [f"killed-{uuid.uuid4().hex[:8]}" for _ in range(6)]
        try:
            async with httpx.AsyncClient(timeout=90) as http:

                async def chat(user: str) -> httpx.Response:
                    return await http.post(
                        f"{url}/api/{user}/chat",
                        json={"message": f"Add a task to visit {user}"},
                        headers={"Authorization": f"Bearer {mint_token(settings, user)}"},
                    )

                requests = [asyncio.create_task(chat(user)) for user in users]

                async def tools_ran() -> bool:  # kill after the effects, before the answers
                    async with sessions() as s:
                        calls = (await s.exec(select(ToolCall).where(col(ToolCall.user_id).in_(users)))).all()
                    return len(calls) >= 3

                await wait_for(tools_ran, timeout_s=30)
                worker = processes[0]
                os.killpg(worker.pid, signal.SIGKILL)  # the whole worker, main process and children
                worker.wait()
                processes[0] = taskchat("worker", "--processes", "1", "--threads", "16", env=env)
                responses = await asyncio.gather(*requests)
        finally:
            for process in processes:
                stop(process)
        assert [r.status_code for r in responses] == [200] * len(users)
        async with sessions() as s:
            tasks = (await s.exec(select(Task).where(col(Task.user_id).in_(users)))).all()
            runs = (await s.exec(select(Run).where(col(Run.user_id).in_(users)))).all()
            calls = (await s.exec(select(ToolCall).where(col(ToolCall.user_id).in_(users)))).all()
        assert sorted(t.user_id for t in tasks) == sorted(
            users
        )  # one task each: nothing lost, nothing doubled
        assert all(r.status == RunStatus.succeeded for r in runs)
        assert max(r.attempts for r in runs) >= 2  # some runs really were retried
        assert len(calls) == len(users)


class TestOrdering:
    async def test_two_quick_messages_are_answered_in_order(
        self, processes, settings, sessions, user_id
    ) -> None:
        url = processes[0]
        headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            conversation = (await http.post(f"{url}/api/{user_id}/chat", json={"message": "hello"})).json()[
                "conversation_id"
            ]
            first = asyncio.create_task(
                http.post(
                    f"{url}/api/{user_id}/chat",
                    json={"message": "Add a task to call the plumber", "conversation_id": conversation},
                )
            )
            await asyncio.sleep(0.02)
            second = await http.post(
                f"{url}/api/{user_id}/chat",
                json={"message": "mark it as done", "conversation_id": conversation},
            )
            first_response = await first
        assert first_response.status_code == second.status_code == 200
        assert [c["name"] for c in second.json()["tool_calls"]] == ["complete_task"]
        async with sessions() as s:
            (task,) = (await s.exec(select(Task).where(Task.user_id == user_id))).all()
            runs = {r.id: r for r in (await s.exec(select(Run).where(Run.user_id == user_id))).all()}
        assert task.completed and task.title == "Call the plumber"
        a, b = runs[first_response.json()["run_id"]], runs[second.json()["run_id"]]
        assert a.id < b.id and b.started_at >= a.finished_at


class PrivatePostgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.data, self.port = folder / "pgdata", port
        folder.chmod(0o777)

    def _as_postgres(self, *args: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *args], check=True, capture_output=True)

    def init(self) -> None:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.start()
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE taskchat",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data.parent / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.data.parent} -h 127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/taskchat"


@pytest.fixture
def private_postgres(tmp_path_factory) -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip("no PostgreSQL server binaries")
    folder = Path(f"/tmp/taskchat-pg-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    postgres = PrivatePostgres(folder, free_port())
    postgres.init()
    yield postgres
    try:
        postgres.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


class TestPostgresOutage:
    async def test_postgres_down_is_503_fast_and_recovers_without_restarts(
        self, settings, private_postgres
    ) -> None:
        env = {
            "DATABASE_URL": private_postgres.url,
            "REDIS_PREFIX": f"{settings.redis_prefix}-p{uuid.uuid4().hex[:6]}",
            "OFFLINE_MODEL_DELAY_S": "1.0",
            "CHAT_TIMEOUT_S": "60",
        }
        assert subprocess.run([*taskchat_cmd(), "migrate"], env={**os.environ, **env}).returncode == 0
        url, processes = start_stack(env)
        user = f"pg-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {mint_token(settings, user)}"}
        try:
            async with httpx.AsyncClient(timeout=90, headers=headers) as http:
                assert (
                    await http.post(f"{url}/api/{user}/chat", json={"message": "Add a task to pay rent"})
                ).status_code == 200
                # A run in flight while the database goes away: the worker retries, the request still answers.
                in_flight = asyncio.create_task(
                    http.post(f"{url}/api/{user}/chat", json={"message": "Add a task to call mom"})
                )
                await asyncio.sleep(0.5)
                private_postgres.stop()
                started = time.monotonic()
                down = await http.post(f"{url}/api/{user}/chat", json={"message": "Add a task to buy milk"})
                elapsed = time.monotonic() - started
                ready = await http.get(f"{url}/readyz")
                listing = await http.get(f"{url}/api/{user}/conversations")
                await asyncio.sleep(2)
                private_postgres.start()
                answered = await in_flight
                after = await http.post(f"{url}/api/{user}/chat", json={"message": "what's pending?"})
        finally:
            for process in processes:
                stop(process)
        assert down.status_code == 503 and down.headers["retry-after"] and elapsed < 2.0
        assert down.json()["error"]["code"] == "unavailable"
        assert ready.status_code == 503 and ready.json()["checks"]["postgres"].startswith("unavailable")
        assert listing.status_code == 503
        assert answered.status_code == 200, answered.text
        assert after.status_code == 200
        assert "Pay rent" in after.json()["response"] and "Call mom" in after.json()["response"]
        assert "Buy milk" not in after.json()["response"]


def taskchat_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "taskchat.cli"]
