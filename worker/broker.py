"""The worker's broker: imported before the actors so that they bind to it."""

import asyncio
import os

import dramatiq
import uvloop
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware
from dramatiq.middleware.prometheus import Prometheus

from common.jobs import make_broker
from common.settings import get_settings


class _UvloopThread(EventLoopThread):
    """The actors' event loop, on uvloop: a run spends much of its CPU in the event loop's machinery.

    Each worker thread waits for its run's coroutine and wakes every `interrupt_check_ival` to notice
    Dramatiq's interrupts (the 5-minute time limit). Every wake-up takes the GIL from the loop, so with
    500 runs in flight Dramatiq's 0.1 s, and even 1 s, cost a fifth of the loop's core; 5 s makes the
    time limit up to 5 s late."""

    def __init__(self, logger: object) -> None:
        super().__init__(logger, interrupt_check_ival=5.0)
        self.loop.close()
        self.loop = uvloop.new_event_loop()


class FastAsyncIO(AsyncIO):
    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        thread = _UvloopThread(self.logger)
        thread.start(timeout=1.0)
        set_event_loop_thread(thread)


class WorkerLifecycle(Middleware):
    """At boot: connect the database, Redis, the MCP tools and the model (not on the first chat), and
    start the sweeper on the actors' event loop."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from worker.runtime import get_runtime
        from worker.sweeper import sweep_forever

        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        runtime = loop_thread.run_coroutine(get_runtime())
        self._sweeper = asyncio.run_coroutine_threadsafe(sweep_forever(runtime, broker), loop_thread.loop)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if getattr(self, "_sweeper", None) is not None:
            self._sweeper.cancel()


broker = make_broker(get_settings(), max_connections=512)
broker.add_middleware(FastAsyncIO())
broker.add_middleware(WorkerLifecycle())
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set by `taskchat worker`; not in tests' in-thread workers
    broker.add_middleware(Prometheus())
dramatiq.set_broker(broker)
