"""A worker told to stop while Redis is gone, with a run in flight whose message it cannot acknowledge,
exits within its grace period (WORKER_SHUTDOWN_GRACE_S) instead of retrying the acknowledgement forever;
the message is left to redelivery (runs are idempotent). Each test has a private redis-server."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aredis

from api.schemas import ChatRequest
from api.services.chat import submit_message
from common.jobs import RunQueue, run_chat_message
from common.models import Run, RunStatus
from tests.e2e.test_faults import PrivateRedis, wait_for
from tests.helpers import free_port

GRACE_S = 4
GRACE_LINE = "worker.shutdown.grace_exceeded"


@pytest.fixture
def private_redis(tmp_path):
    redis = PrivateRedis(free_port(), tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def own(settings):
    """The test's settings with a key prefix of its own."""
    return settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}-stop{uuid.uuid4().hex[:6]}"})


def start_worker(own, redis_url: str, log_path: Path, grace_s: float = GRACE_S) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": own.redis_prefix,
        "OFFLINE_MODEL_DELAY_S": "0.5",  # per model call: the run is still going when Redis dies
        "WORKER_SHUTDOWN_GRACE_S": str(grace_s),
        "LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "taskchat.cli", "worker", "--processes", "1", "--threads", "4"]
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [*command, "--metrics-port", str(free_port())],
            env=env,
            start_new_session=True,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


async def stopped(worker: subprocess.Popen[bytes], grace_s: float = GRACE_S) -> int:
    """The exit code of the worker, once every process of its group is gone. The bound is on a wait, not a
    timed assertion: without the grace a worker that cannot acknowledge never exits."""
    code = await asyncio.to_thread(worker.wait, grace_s + 20)
    deadline = time.monotonic() + 10
    while not _group_gone(worker.pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert _group_gone(worker.pid), "a process of the worker is still alive"
    return code


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _kill(worker: subprocess.Popen[bytes]) -> None:
    if not _group_gone(worker.pid):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


class TestWorkerStop:
    @pytest.mark.parametrize("sigterms", [1, 2])
    async def test_sigterm_with_redis_gone_and_a_run_in_flight_exits_within_the_grace(
        self, own, db, sessions, private_redis, user_id, tmp_path, sigterms
    ) -> None:
        log_path = tmp_path / "worker.log"
        worker = start_worker(own, private_redis.url, log_path)
        try:
            run, _ = await submit_message(
                db,
                user_id=user_id,
                request=ChatRequest(message="add a task to buy milk"),
                idempotency_key=None,
                max_inflight=5,
            )
            client = aredis.Redis.from_url(private_redis.url)
            try:
                await RunQueue(client, own).send(run_chat_message(run.id))
            finally:
                await client.aclose()

            async def running() -> bool:
                async with sessions() as s:
                    return (await s.get(Run, run.id)).status == RunStatus.running

            await wait_for(running, timeout_s=60)
            private_redis.stop()  # the run goes on, but its acknowledgement cannot reach Redis
            for _ in range(sigterms):  # a second SIGTERM ends Dramatiq's graceful stop, not the process
                worker.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.2)

            assert await stopped(worker) == 1  # not a clean exit: its message is not acknowledged
            lines = log_path.read_text().splitlines()
            assert sum(GRACE_LINE in line for line in lines) == 1, lines[-20:]
        finally:
            _kill(worker)

    async def test_a_worker_with_nothing_to_finish_exits_cleanly_before_the_grace(
        self, own, private_redis, tmp_path
    ) -> None:
        log_path = tmp_path / "worker.log"
        # An idle worker thread notices the stop within 5 s (`taskchat worker`'s thread timeout).
        worker = start_worker(own, private_redis.url, log_path, grace_s=30)
        try:
            heartbeats = f"{own.redis_prefix}:dramatiq:__heartbeats__"
            client = aredis.Redis.from_url(private_redis.url)
            try:

                async def booted() -> bool:  # its consumers have talked to Redis
                    return await client.zcard(heartbeats) > 0

                await wait_for(booted, timeout_s=60)
            finally:
                await client.aclose()
            worker.send_signal(signal.SIGTERM)

            assert await stopped(worker, grace_s=30) == 0
            assert GRACE_LINE not in log_path.read_text()
        finally:
            _kill(worker)
