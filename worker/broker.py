"""The worker's broker: imported before the actors so that they bind to it."""

import dramatiq
from dramatiq.middleware import AsyncIO

from common.jobs import make_broker
from common.settings import get_settings

broker = make_broker(get_settings(), max_connections=512)
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)
