import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import free_port, wait_for_http


def taskchat(*args: str) -> subprocess.Popen[bytes]:
    """A real `taskchat` process with the test run's configuration."""
    return subprocess.Popen(
        [sys.executable, "-m", "common.cli", *args], env=dict(os.environ), start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # The leader only: dramatiq's main process forwards SIGTERM to its workers, and a second
        # SIGTERM makes a worker exit mid-shutdown and hang on its live threads.
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def processes(settings) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
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
