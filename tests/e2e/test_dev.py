"""`taskchat dev --mcp` as a newcomer runs it: its own embedded PostgreSQL and Redis in a fresh home, a
quiet start, and a banner whose lines work when pasted into another shell (curl, the terminal client, the
MCP example). Ctrl-C stops everything and leaves no metrics folder behind."""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

SERVICES = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "MCP_SERVICE_TOKEN", "MCP_URL", "LOG_FORMAT")


def _read_lines(stream, lines: "queue.Queue[str | None]") -> None:
    for line in iter(stream.readline, ""):
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Short: PostgreSQL and Redis put unix sockets in here (about 100 bytes at most for a socket path).
    folder = Path(tempfile.mkdtemp(prefix="tc-dev-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_taskchat_dev_prints_lines_that_work_when_pasted(scratch: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("the banner's first recipe needs curl (apt-get install curl)")
    tmp = scratch / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SERVICES}
    env.update({"TASKCHAT_HOME": str(scratch / "home"), "TMPDIR": str(tmp)})
    api_port, mcp_port = free_port(), free_port()
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskchat.cli",
            "dev",
            "--port",
            str(api_port),
            "--mcp",
            "--mcp-port",
            str(mcp_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(dev.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while "Stop with Ctrl-C." not in output:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "\n".join(output)
            output.append(line)
        start = output.index(
            "taskchat is running: offline model, embedded PostgreSQL and Redis in " + env["TASKCHAT_HOME"]
        )
        before, banner = output[:start], output[start:]

        # Quiet start: only our own log records, or another library's warnings; no initdb output.
        for line in filter(None, before):
            record = json.loads(line)
            assert record["logger"].startswith("taskchat") or record["level"] in ("warning", "error"), record
        assert "XDG_RUNTIME_DIR" not in "\n".join(output)

        assert f"  chat page       http://127.0.0.1:{api_port}/" in banner
        assert any(line.startswith(f"  MCP server      http://127.0.0.1:{mcp_port}/mcp ") for line in banner)
        paste = [line.strip() for line in banner[banner.index("Try it in another terminal:") + 1 : -1]]
        assert paste[0].startswith(f"export TASKCHAT_URL=http://127.0.0.1:{api_port} TASKCHAT_USER=demo ")
        script = scratch / "paste.sh"
        script.write_text("set -e\n" + "\n".join(paste) + "\n")
        pasted = subprocess.run(
            ["bash", str(script)],
            input="add a task to call mom\nwhat is pending?\n\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=scratch,  # another folder: the lines must not depend on the repository being the cwd
            env={k: v for k, v in env.items() if not k.startswith("TASKCHAT_")},
        )
        assert pasted.returncode == 0, pasted.stderr
        out = pasted.stdout.splitlines()
        assert json.loads(out[0])["response"] == "Added “Buy milk” (task 1)."
        assert "· add_task" in pasted.stdout and "Added “Call mom” (task 2)." in pasted.stdout
        assert "1. Buy milk (task 1)" in pasted.stdout and "2. Call mom (task 2)" in pasted.stdout
        assert pasted.stdout.endswith(
            "tools: add_task, complete_task, delete_task, list_reminders, list_tasks, update_task\n"
            "added task 3: Water the plants\n"
            "pending: Buy milk, Call mom, Water the plants\n"
            "completed task 3: True\n"
        )
        assert list(tmp.glob("taskchat-worker-metrics-*")), "the worker keeps its metrics in TMPDIR"
    finally:
        os.kill(dev.pid, signal.SIGINT)  # what Ctrl-C sends
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            raise
    assert dev.returncode == 0
    assert not _port_open(api_port) and not _port_open(mcp_port)
    assert list(tmp.glob("taskchat-worker-metrics-*")) == []
    assert not (scratch / "home" / "postgres" / "postmaster.pid").exists()


def test_taskchat_dev_says_when_its_port_is_taken(scratch: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in SERVICES}
        env["TASKCHAT_HOME"] = str(scratch / "home")
        result = subprocess.run(
            [sys.executable, "-m", "taskchat.cli", "dev", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"taskchat dev: port {port} on 127.0.0.1 is in use (another taskchat dev?); use --port\n"
    )
