"""What `common/jobs.py` and `worker/broker.py` take from Dramatiq's internals, pinned to the installed
Dramatiq, so that an upgrade fails here, loudly, instead of in production: `_WakeConsumer` subclasses the
private `_RedisConsumer`; `RunQueue` writes what the enqueue branch of `brokers/redis/dispatch.lua` writes;
`Backlog` reads its key layout; `_UvloopThread` replaces the loop of `EventLoopThread`. After an upgrade,
compare the new sources with those copies, adapt them, then update the values below.
(tests/integration/test_queue.py checks on real Redis that our messages and Dramatiq's consumers agree.)"""

import hashlib
import inspect
import re
import tomllib
from pathlib import Path

import dramatiq
import dramatiq.asyncio
import dramatiq.brokers.redis
import dramatiq.common

ROOT = Path(__file__).parents[2]
VERSION = "2.2.1"
DISPATCH_LUA = Path(dramatiq.brokers.redis.__file__).parent / "redis" / "dispatch.lua"
DISPATCH_LUA_SHA256 = "ba4d872e4fb204ebc3f73ca4719265a9946d70e847856c125314f01a8c90540c"
ENQUEUE_BRANCH_SHA256 = "38b04c996a6e12b39df0d3b4c64fe6b66d989019d83122f818069e9faa09ad40"


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_installed_dramatiq_is_the_one_the_copies_follow() -> None:
    assert dramatiq.__version__ == VERSION
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"dramatiq[redis]=={VERSION}" in dependencies


def test_the_enqueue_script_is_the_one_runqueue_repeats() -> None:
    lua = DISPATCH_LUA.read_text()
    branch = re.search(r'if command == "enqueue" then\n.*?(?=elseif command == "fetch" then)', lua, re.S)
    assert branch is not None, "dispatch.lua has no enqueue branch any more"
    assert _sha256(branch.group(0)) == ENQUEUE_BRANCH_SHA256, "Dramatiq's enqueue changed: see RunQueue"
    # The whole script: the key layout (`__acks__.<worker>.<queue>`, `__heartbeats__`, `<queue>.msgs`) that
    # Backlog reads and the fetch that _WakeConsumer calls.
    assert _sha256(DISPATCH_LUA.read_bytes()) == DISPATCH_LUA_SHA256, "dispatch.lua changed: see jobs.py"


def test_the_private_names_and_signatures_used_exist() -> None:
    from dramatiq.brokers.redis import RedisBroker, _RedisConsumer

    assert _parameters(_RedisConsumer.__init__) == ["self", "broker", "queue_name", "prefetch", "timeout"]
    assert isinstance(_RedisConsumer.outstanding_message_count, property)
    consumer = _RedisConsumer(object(), "chat", 3, 1000)
    used = (consumer.queue_name, consumer.prefetch, consumer.timeout, consumer.message_cache)
    assert used == ("chat", 3, 1000, [])
    assert _parameters(RedisBroker.consume) == ["self", "queue_name", "prefetch", "timeout"]
    assert _parameters(RedisBroker.enqueue) == ["self", "message", "delay"]
    assert {"client", "namespace", "heartbeat_timeout", "maintenance_chance"} <= set(
        _parameters(RedisBroker.__init__)
    )
    assert "__getattr__" in vars(RedisBroker)  # `do_fetch` and the other commands are dispatched by name
    assert (dramatiq.common.dq_name("chat"), dramatiq.common.q_name("chat.DQ")) == ("chat.DQ", "chat")

    thread_init = dramatiq.asyncio.EventLoopThread.__init__
    assert _parameters(thread_init) == ["self", "logger", "interrupt_check_ival"]
    assert "self.loop = " in inspect.getsource(thread_init)  # the attribute _UvloopThread replaces
    assert callable(dramatiq.asyncio.set_event_loop_thread)
    assert callable(dramatiq.asyncio.get_event_loop_thread)
