"""The worker's broker: imported before the actors so that they bind to it."""

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import dramatiq
import uvloop
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware
from dramatiq.middleware.prometheus import Prometheus

from common.heap import freeze_startup_heap
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

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """The worker threads are done: close the runtime on its loop, then stop the loop."""
        from worker.runtime import close_runtime

        thread = get_event_loop_thread()
        if thread is not None:
            try:
                thread.run_coroutine(close_runtime())
            except Exception:  # a pool that cannot close cleanly must not keep the process alive
                logging.getLogger("taskchat.worker").warning("worker.close_failed", exc_info=True)
        super().after_worker_shutdown(broker, worker)


# How long a thread that wants the GIL waits before asking the holder to let go (Python's default is
# 5 ms). Each waiting thread wakes up that often: when hundreds of runs end together, hundreds of worker
# threads wait for the GIL to ack their messages while the actors' loop works, and at 5 ms their wake-ups
# cost more CPU than the acks (docs/performance.md, #19.4). The loop gives the GIL up whenever it waits
# for I/O anyway; only while it computes does a worker thread now wait up to 50 ms.
SWITCH_INTERVAL_S = 0.05


class WorkerLifecycle(Middleware):
    """At boot: connect the database, Redis, the MCP tools and the model (not on the first chat), keep
    the garbage collector off what start-up built, lengthen the GIL's switch interval, and start the
    sweeper on the actors' event loop."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from worker.runtime import get_runtime
        from worker.sweeper import sweep_forever

        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        runtime = loop_thread.run_coroutine(get_runtime())
        freeze_startup_heap()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._sweeper = asyncio.run_coroutine_threadsafe(sweep_forever(runtime, broker), loop_thread.loop)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if getattr(self, "_sweeper", None) is not None:
            self._sweeper.cancel()


class ShutdownDeadline(Middleware):
    """Ends a worker process `grace_s` after it was told to stop (SIGTERM, or SIGHUP to reload), whatever
    is still going. Dramatiq waits up to 10 minutes for runs in flight, retries an acknowledgement every
    5 s until Redis takes it, and on a second SIGTERM leaves its shutdown for threads that never end: a
    worker stopped while Redis is unreachable would never exit. What it leaves unacknowledged goes back
    to the queue once its heartbeat lapses, and runs are idempotent."""

    def __init__(self, grace_s: float) -> None:
        super().__init__()
        self.grace_s = grace_s
        self._timer: threading.Timer | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Dramatiq's own handlers are in place by now (the worker boots on the process's main thread,
        # before it takes a message); the deadline starts with the signal, before they act on it.
        for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            handler = signal.getsignal(signum) if signum is not None else None
            if callable(handler):
                signal.signal(signum, self._arming(handler))

    def _arming(self, handler: Callable[[int, FrameType | None], Any]) -> Callable[..., None]:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            self.start()
            handler(signum, frame)

        return on_stop

    def start(self) -> None:
        if self._timer is None:
            # A daemon thread: it must not keep alive a process that finished its shutdown in time.
            self._timer = threading.Timer(self.grace_s, self._exit)
            self._timer.daemon = True
            self._timer.start()

    def _exit(self) -> None:
        logging.getLogger("taskchat.worker").warning(
            "worker.shutdown.grace_exceeded grace_s=%s: exiting now; unacknowledged messages return to "
            "the queue when this worker's heartbeat lapses",
            self.grace_s,
        )
        os._exit(1)  # not sys.exit: the threads still retrying would keep the process alive


broker = make_broker(get_settings(), max_connections=512)
broker.add_middleware(FastAsyncIO())
broker.add_middleware(WorkerLifecycle())
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set by `taskchat worker`; not in tests' in-thread workers
    broker.add_middleware(Prometheus())
    # Only in a process of its own: the deadline ends the whole process.
    broker.add_middleware(ShutdownDeadline(get_settings().worker_shutdown_grace_s))
dramatiq.set_broker(broker)
