"""`taskchat`: the command line (DESIGN.md §8)."""

import argparse
import logging
import os
import sys

from common import logs

WORKER_THREAD_TIMEOUT_MS = 5000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="taskchat", description="AI todo assistant backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev", help="run everything on this machine (embedded Postgres and Redis if unset)"
    )
    dev.add_argument("--host", default="127.0.0.1", help="address the API (and MCP server) listen on")
    dev.add_argument("--port", type=int, default=8000, help="the API's port")
    dev.add_argument(
        "--mcp", action="store_true", help="also run the standalone MCP server, with a fresh service token"
    )
    dev.add_argument("--mcp-port", type=int, help="the MCP server's port (default: the API's port + 1)")

    api = commands.add_parser("api", help="run the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    worker = commands.add_parser("worker", help="run Dramatiq workers that answer chats")
    worker.add_argument("--processes", type=int, default=1)
    # A run waits on its model most of the time, and Dramatiq parks one thread per run in flight, so the
    # default is hundreds: an idle thread costs a wake-up every 5 s and a few kB.
    worker.add_argument("--threads", type=int, default=512, help="runs in flight per process")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=9191,
        help="port of the Prometheus metrics of this host's workers (0: pick a free one and print it)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the metrics listen on (default %(default)s; 0.0.0.0 opens them to other machines)",
    )

    mcp = commands.add_parser("mcp", help="run the MCP task server standalone")
    mcp.add_argument("--transport", choices=["http", "stdio"], default="http")
    mcp.add_argument("--host", default="127.0.0.1")
    mcp.add_argument("--port", type=int, default=8001)

    commands.add_parser("migrate", help="apply database migrations")

    token = commands.add_parser(
        "token", help="print a development JWT that the local key set accepts (TASKCHAT_ENV=development)"
    )
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds")

    chat = commands.add_parser(
        "chat",
        help="a terminal chat client",
        description="Chat with a running taskchat API in the terminal; answers stream as they are written.",
    )
    chat.add_argument(
        "--url",
        default=os.environ.get("TASKCHAT_URL", "http://127.0.0.1:8000"),
        help="the API to talk to (env TASKCHAT_URL; default %(default)s)",
    )
    chat.add_argument(
        "--user",
        default=os.environ.get("TASKCHAT_USER", "me"),
        help="the user id to chat as, the token's user (env TASKCHAT_USER; default %(default)s)",
    )
    chat.add_argument(
        "--token",
        default=os.environ.get("TASKCHAT_TOKEN"),
        help="a bearer JWT (env TASKCHAT_TOKEN); without one, in development (TASKCHAT_ENV=development) "
        "a development token is minted from the local key set, as `taskchat token USER` does",
    )

    evaluate = commands.add_parser("eval", help="run a command corpus against a running stack")
    evaluate.add_argument("file")
    evaluate.add_argument("--url", default=os.environ.get("TASKCHAT_URL", "http://127.0.0.1:8000"))
    evaluate.add_argument(
        "--mcp-url",
        default=os.environ.get("MCP_URL"),
        help="reach the tools through this MCP server (env MCP_URL; needs MCP_SERVICE_TOKEN) instead of "
        "in-process on DATABASE_URL",
    )
    evaluate.add_argument("--concurrency", type=int, default=4)
    evaluate.add_argument("--min-accuracy", type=float, default=0.0, help="exit 1 below this (0..1)")

    args = parser.parse_args(argv)
    logs.configure()
    commands_run = {
        "dev": _dev,
        "api": _api,
        "worker": _worker,
        "mcp": _mcp,
        "migrate": _migrate,
        "token": _token,
        "chat": _chat,
        "eval": _eval,
    }
    commands_run[args.command](args)


# Each command imports what it runs when it runs: `taskchat token` must not pay for the Agents SDK.
def _dev(args: argparse.Namespace) -> None:
    from taskchat.devserver import run

    run(args)


def _chat(args: argparse.Namespace) -> None:
    from taskchat.chatclient import run

    run(args)


def _eval(args: argparse.Namespace) -> None:
    from taskchat.evaluate import run

    run(args)


def _refuse(command: str, *problems: str | None) -> None:
    """A process that cannot work with this configuration stops here, saying why in one line."""
    for problem in problems:
        if problem:
            sys.exit(f"taskchat {command}: {problem}")


def _api(args: argparse.Namespace) -> None:
    from common.auth import key_source_problem
    from common.settings import get_settings

    _refuse("api", key_source_problem(get_settings()))
    import uvicorn

    uvicorn.run(
        "api.main:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="h11",  # httptools rejects bytes in headers that h11 (and our contract) accept
        log_level="warning",
        access_log=False,
    )


def _worker(args: argparse.Namespace) -> None:
    import shutil
    import tempfile

    from common.auth import key_source_problem, service_token_problem
    from common.settings import get_settings

    settings = get_settings()
    # Workers verify no tokens, but they run with the API's configuration: a deployment without a key
    # source is refused by every process, not discovered at the first sign-in.
    _refuse(
        "worker",
        key_source_problem(settings),
        service_token_problem(settings) if settings.mcp_url else None,
    )
    metrics_port = args.metrics_port or free_port(args.metrics_host)
    if not args.metrics_port:
        logging.getLogger("taskchat.worker").info(
            "worker metrics at http://%s/metrics", _host_port(args.metrics_host, metrics_port)
        )
    # Worker processes write their metrics to a directory of their own that Dramatiq's exposition server
    # reads; both read these variables when they are imported, so they are set first.
    metrics_dir = tempfile.mkdtemp(prefix="taskchat-worker-metrics-")
    os.environ.update(
        {
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            "dramatiq_prom_db": metrics_dir,
            "dramatiq_prom_host": args.metrics_host,
            "dramatiq_prom_port": str(metrics_port),
            # An idle worker thread wakes every worker timeout (Dramatiq's 1 s) to see whether it should
            # stop, and each wake-up takes the GIL from the runs in flight: with 512 threads, 5 s makes
            # a shutdown up to 5 s longer. Consumers keep polling at 1 s (common/jobs.py).
            "dramatiq_worker_timeout": str(WORKER_THREAD_TIMEOUT_MS),
        }
    )
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    dramatiq_args = make_argument_parser().parse_args(
        ["worker.actors", "--processes", str(args.processes), "--threads", str(args.threads)]
    )
    try:
        code = dramatiq_main(dramatiq_args)
    finally:  # only here: Dramatiq's forked worker processes end in os._exit, never unwinding to this frame
        shutil.rmtree(metrics_dir, ignore_errors=True)
    sys.exit(code)


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _host_port(host: str, port: int) -> str:
    """`host:port` as a URL writes it, with a wildcard address replaced by the loopback one."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _mcp(args: argparse.Namespace) -> None:
    from common.db import Database
    from common.migrate import unreachable
    from common.settings import get_settings

    settings = get_settings()
    if args.transport == "http":  # stdio serves the one local client that started it
        from common.auth import key_source_problem, service_token_problem

        _refuse("mcp", service_token_problem(settings), key_source_problem(settings))
    # Every tool call needs the database: without it, fail now, not as "Internal server error" per call.
    if problem := unreachable(settings.database_url, timeout_s=10):
        sys.exit(f"taskchat mcp: {problem}")
    import redis.asyncio as aredis

    from common.userevents import AfterCommit
    from mcp_tools import server

    # Both connect on first use. Redis gets the new reminders' queue messages and the feed's nudges.
    client = aredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    server.bind_database(Database(settings), AfterCommit(client, settings))
    if args.transport == "stdio":
        server.mcp.run(transport="stdio", show_banner=False)
        return
    import uvicorn

    from mcp_tools.auth import CallerAuth

    server.accept_callers(CallerAuth(settings))  # the service token, or a user's own Better Auth JWT
    app = server.mcp.http_app(path="/mcp")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")


def _migrate(args: argparse.Namespace) -> None:
    from common.migrate import upgrade
    from common.settings import get_settings

    upgrade(get_settings())


def _token(args: argparse.Namespace) -> None:
    from common.devkeys import mint_token
    from common.errors import ConfigError
    from common.settings import get_settings

    try:
        print(mint_token(get_settings(), args.user_id, ttl_s=args.ttl))
    except ConfigError as exc:
        _refuse("token", str(exc))


if __name__ == "__main__":
    main()
