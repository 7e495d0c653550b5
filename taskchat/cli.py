"""`taskchat`: the command line (DESIGN.md §8)."""

import argparse
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
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)

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
        "--metrics-port", type=int, default=9191, help="Prometheus metrics of this host's workers"
    )

    mcp = commands.add_parser("mcp", help="run the MCP task server standalone")
    mcp.add_argument("--transport", choices=["http", "stdio"], default="http")
    mcp.add_argument("--host", default="127.0.0.1")
    mcp.add_argument("--port", type=int, default=8001)

    commands.add_parser("migrate", help="apply database migrations")

    token = commands.add_parser("token", help="print a development JWT that the local key set accepts")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds")

    chat = commands.add_parser("chat", help="a terminal chat client")
    chat.add_argument("--url", default=os.environ.get("TASKCHAT_URL", "http://127.0.0.1:8000"))
    chat.add_argument("--user", default=os.environ.get("TASKCHAT_USER", "me"))
    chat.add_argument("--token", default=os.environ.get("TASKCHAT_TOKEN"))

    evaluate = commands.add_parser("eval", help="run a command corpus against a running stack")
    evaluate.add_argument("file")
    evaluate.add_argument("--url", default=os.environ.get("TASKCHAT_URL", "http://127.0.0.1:8000"))
    evaluate.add_argument(
        "--mcp-url", default=None, help="use a standalone MCP server (needs MCP_SERVICE_TOKEN)"
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


def _api(args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(
        "api.main:create_app",
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

    # Worker processes write their metrics to one directory that Dramatiq's exposition server reads;
    # both read these variables when they are imported, so they are set first.
    metrics_dir = os.path.join(tempfile.gettempdir(), f"taskchat-worker-metrics-{args.metrics_port}")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)
    os.environ.update(
        {
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            "dramatiq_prom_db": metrics_dir,
            "dramatiq_prom_port": str(args.metrics_port),
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
    sys.exit(dramatiq_main(dramatiq_args))


def _mcp(args: argparse.Namespace) -> None:
    from common.db import Database
    from common.settings import get_settings
    from mcp_tools import server

    settings = get_settings()
    server.bind_database(Database(settings))  # connects on first use
    if args.transport == "stdio":
        server.mcp.run(transport="stdio", show_banner=False)
        return
    if not settings.mcp_service_token:
        sys.exit("taskchat mcp --transport http needs MCP_SERVICE_TOKEN")
    import uvicorn

    app = server.ServiceTokenAuth(server.mcp.http_app(path="/mcp"), settings.mcp_service_token)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")


def _migrate(args: argparse.Namespace) -> None:
    from common.migrate import upgrade
    from common.settings import get_settings

    upgrade(get_settings())


def _token(args: argparse.Namespace) -> None:
    from common.devkeys import mint_token
    from common.settings import get_settings

    print(mint_token(get_settings(), args.user_id, ttl_s=args.ttl))


if __name__ == "__main__":
    main()
