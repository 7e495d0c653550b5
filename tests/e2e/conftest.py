import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import free_port, wait_for_http


def taskchat(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A real `taskchat` process with the test run's configuration."""
    if args[0] == "worker" and "--metrics-port" not in args:  # several workers at once: a port each
        args = (*args, "--metrics-port", str(free_port()))
    return subprocess.Popen(
        [sys.executable, "-m", "taskchat.cli", *args],
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # The leader only: dramatiq's main process forwards SIGTERM to its workers, and a second
        # SIGTERM makes a worker leave its shutdown to live threads until its grace ends it.
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def processes(settings) -> Iterator[list[str]]:
    """One `taskchat worker` and two `taskchat api` processes on loopback."""
    ports = [free_port(), free_port()]
    started = [taskchat("worker", "--processes", "1", "--threads", "16")]
    started += [taskchat("api", "--host", "127.0.0.1", "--port", str(port)) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_for_http(f"{url}/healthz")
        yield urls
    finally:
        for process in started:
            stop(process)


@pytest.fixture(scope="session")
def slow_stack(settings) -> Iterator[str]:
    """An API and a worker of their own (own queue namespace) whose offline model takes ~1 s per call,
    so that streamed events arrive over time."""
    port = free_port()
    env = {"REDIS_PREFIX": f"{settings.redis_prefix}-slow", "OFFLINE_MODEL_DELAY_S": "0.6"}
    started = [
        taskchat("worker", "--processes", "1", "--threads", "8", env=env),
        taskchat("api", "--host", "127.0.0.1", "--port", str(port), env=env),
    ]
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in started:
            stop(process)
