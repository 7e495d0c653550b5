"""The worker's broker: imported before the actors so that they bind to it."""

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from common.jobs import make_broker
from common.settings import get_settings


class WarmRuntime(Middleware):
    """Connect the database, Redis, the MCP tools and the model at boot, not on the first chat."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from worker.runtime import get_runtime

        get_event_loop_thread().run_coroutine(get_runtime())  # type: ignore[union-attr]


broker = make_broker(get_settings(), max_connections=512)
broker.add_middleware(AsyncIO())
broker.add_middleware(WarmRuntime())
dramatiq.set_broker(broker)
