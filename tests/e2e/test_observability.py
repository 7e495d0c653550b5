"""Metrics on the API and the workers, and a request id that follows a chat into the worker's logs."""

import json
import subprocess
import sys
import uuid

import httpx

from common.devkeys import mint_token
from tests.e2e.conftest import stop
from tests.helpers import free_port, wait_for_http


async def test_metrics_and_request_ids(settings, tmp_path, user_id) -> None:
    import os

    env = {
        **os.environ,
        "REDIS_PREFIX": f"{settings.redis_prefix}-o{uuid.uuid4().hex[:6]}",
        "LOG_FORMAT": "json",
    }
    api_port, metrics_port = free_port(), free_port()
    worker_log = (tmp_path / "worker.log").open("w")
    taskchat = [sys.executable, "-m", "taskchat.cli"]
    worker = subprocess.Popen(
        [*taskchat, "worker", "--threads", "8", "--metrics-port", str(metrics_port)],
        env=env,
        stderr=worker_log,
        start_new_session=True,
    )
    api = subprocess.Popen([*taskchat, "api", "--port", str(api_port)], env=env, start_new_session=True)
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_for_http(f"{url}/healthz")
        wait_for_http(f"http://127.0.0.1:{metrics_port}/")
        async with httpx.AsyncClient(timeout=30) as http:
            chat = await http.post(
                f"{url}/api/{user_id}/chat",
                json={"message": "Add a task to water the plants"},
                headers={
                    "Authorization": f"Bearer {mint_token(settings, user_id)}",
                    "X-Request-ID": "req-abc-123",
                },
            )
            other = await http.get(f"{url}/healthz")
            api_metrics = (await http.get(f"{url}/metrics")).text
            worker_metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/")).text
    finally:
        stop(api)
        stop(worker)
        worker_log.close()
    assert chat.status_code == 200 and chat.headers["x-request-id"] == "req-abc-123"
    assert len(other.headers["x-request-id"]) == 32  # made up when the caller sent none
    assert (
        'taskchat_http_requests_total{method="POST",route="/api/{user_id}/chat",status="200"} 1.0'
        in api_metrics
    )
    assert "taskchat_http_request_duration_seconds_bucket" in api_metrics
    assert "taskchat_api_waiting_requests 0.0" in api_metrics
    assert "taskchat_runs_accepted_total 1.0" in api_metrics
    assert 'taskchat_runs_total{outcome="succeeded"} 1.0' in worker_metrics
    assert 'taskchat_tool_calls_total{status="ok",tool="add_task"} 1.0' in worker_metrics
    assert "taskchat_run_queue_wait_seconds_bucket" in worker_metrics
    assert "dramatiq_messages_total" in worker_metrics

    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    run_lines = [line for line in lines if line.get("run_id") == chat.json()["run_id"]]
    assert run_lines and all(line["request_id"] == "req-abc-123" for line in run_lines)
    assert {"chat.run.started attempt=1", "chat.run.succeeded"} <= {line["event"] for line in run_lines}
    assert all(line["user_id"] == user_id for line in run_lines if "conversation_id" in line)
    assert "water the plants" not in (tmp_path / "worker.log").read_text().lower()  # no content in logs


def test_worker_metrics_listen_on_loopback_on_a_free_port_and_leave_no_folder(settings, tmp_path) -> None:
    import os
    import re
    import time

    import psutil

    scratch = tmp_path / "tmp"  # the worker's temp folder: its metrics folder goes here
    scratch.mkdir()
    env = {
        **os.environ,
        "REDIS_PREFIX": f"{settings.redis_prefix}-m{uuid.uuid4().hex[:6]}",
        "LOG_FORMAT": "json",
        "TMPDIR": str(scratch),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "taskchat.cli", "worker", "--threads", "4", "--metrics-port", "0"],
            env=env,
            stderr=log,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not (
            found := re.search(r"worker metrics at http://127\.0\.0\.1:(\d+)/metrics", log_path.read_text())
        ):
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        port = int(found.group(1))
        wait_for_http(f"http://127.0.0.1:{port}/metrics")
        assert "taskchat_runs_in_progress 0.0" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        listening = [
            c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port
        ]
        assert listening == ["127.0.0.1"]
        (folder,) = scratch.iterdir()
        assert folder.name.startswith("taskchat-worker-metrics-") and any(folder.iterdir())
    finally:
        stop(worker)
    assert worker.returncode == 0
    assert list(scratch.iterdir()) == []
