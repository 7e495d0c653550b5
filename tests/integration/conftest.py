from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import ServerThread, free_port


@pytest.fixture(scope="session")
def worker(settings) -> Iterator[None]:
    """A real Dramatiq worker (threads in this process) on the machine's Redis."""
    import dramatiq

    import worker.actors  # noqa: F401  (declares the actor on the configured broker)

    broker = dramatiq.get_broker()
    broker.emit_after("process_boot")
    consumer = dramatiq.Worker(broker, worker_threads=16, worker_timeout=1000)
    consumer.start()
    yield
    consumer.stop(timeout=10_000)
    broker.emit_before("process_stop")


@pytest.fixture(scope="session")
def api_url(settings, worker) -> Iterator[str]:
    from api.main import create_app

    port = free_port()
    with ServerThread(create_app(settings), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def auth(settings, user_id):
    """A development token for the test's user."""
    from common.devkeys import mint_token

    return {"Authorization": f"Bearer {mint_token(settings, user_id)}"}


@pytest.fixture
async def http(api_url):
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client
