"""The shared pace and breaker (worker/pace.py) on the real Redis: two `Pace` objects on the same keys
stand for two worker processes. Waits are computed by Redis from its own clock, so they are exact up to
the few milliseconds between two calls."""

import asyncio
import uuid

import pytest
import redis.asyncio as aredis

from worker.pace import Pace

MODEL = "gemini-2.5-flash"
SLACK_S = 0.03  # time that passes between two calls of a test


@pytest.fixture
async def client(settings):  # type: ignore[no-untyped-def]
    redis = aredis.Redis.from_url(settings.redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
def prefix(settings) -> str:
    return f"{settings.redis_prefix}-pace-{uuid.uuid4().hex[:8]}"


def pace(client, prefix, **overrides):  # type: ignore[no-untyped-def]
    options = {
        "rpm": 3,
        "tpm": None,
        "window_s": 0.5,  # a "minute" of 0.51 s with the 2% headroom
        "breaker_failures": 2,
        "breaker_cooldown_s": 0.3,
        "probe_lease_s": 5.0,
        **overrides,
    }
    return Pace(client, prefix, MODEL, **options)


def near(value: float, expected: float) -> bool:
    return expected - SLACK_S <= value <= expected + 0.002


class TestPace:
    async def test_calls_go_at_once_within_the_quota_and_beyond_it_wait_their_turn(
        self, client, prefix
    ) -> None:  # type: ignore[no-untyped-def]
        one, two = pace(client, prefix), pace(client, prefix)  # two worker processes
        grants = [await (one if n % 2 else two).acquire(cost=0, max_wait_s=60) for n in range(7)]

        assert [g.kind for g in grants] == ["go"] * 3 + ["wait"] * 4
        for grant, expected in zip(grants, [0, 0, 0, 0.51, 0.51, 0.51, 1.02], strict=True):
            assert near(grant.wait_s, expected), (expected, grant.wait_s)
            assert grant.reason == "pace" and grant.breaker == "closed"
        # A waiting call that confirms early waits on; on time, it goes.
        early = await one.confirm(grants[3].member)
        assert early.kind == "wait" and near(early.wait_s, 0.51)
        await asyncio.sleep(early.wait_s)
        assert (await two.confirm(grants[3].member)).kind == "go"

    async def test_without_a_quota_calls_go_at_once(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        free = pace(client, prefix, rpm=None)
        assert [(await free.acquire(cost=0, max_wait_s=60)).kind for _ in range(5)] == ["go"] * 5

    async def test_tokens_count_too(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        tokens = pace(client, prefix, rpm=None, tpm=100)
        assert (await tokens.acquire(cost=60, max_wait_s=60)).kind == "go"
        assert (await tokens.acquire(cost=30, max_wait_s=60)).kind == "go"
        over = await tokens.acquire(cost=20, max_wait_s=60)  # 110 tokens: wait for the first 60 to leave
        assert over.kind == "wait" and near(over.wait_s, 0.51)

    async def test_a_429_moves_every_waiting_call_back_in_order(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        one, two = pace(client, prefix, rpm=1), pace(client, prefix, rpm=1)
        sent = await one.acquire(cost=0, max_wait_s=60)
        waiting = [await two.acquire(cost=0, max_wait_s=60) for _ in range(3)]
        assert [near(g.wait_s, n * 0.51) for n, g in enumerate(waiting, 1)] == [True] * 3
        await one.limited(sent.member, 1.0)  # Gemini: retryDelay "1s"

        moved = [await two.confirm(g.member) for g in waiting]
        assert [g.reason for g in moved] == ["paused"] * 3
        for n, grant in enumerate(moved):
            assert grant.kind == "wait" and near(grant.wait_s, 1.0 + n * 0.51), (n, grant.wait_s)
        later = await one.acquire(cost=0, max_wait_s=60)
        assert near(later.wait_s, 1.0 + 3 * 0.51)
        # A second 429 within the pause moves nobody twice.
        await two.limited(sent.member, 0.5)
        assert near((await one.confirm(waiting[0].member)).wait_s, 1.0)

    async def test_a_wait_beyond_the_budget_is_refused_without_taking_a_place(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        slow = pace(client, prefix, rpm=1)
        await slow.acquire(cost=0, max_wait_s=60)
        refused = await slow.acquire(cost=0, max_wait_s=0.3)
        queued = await slow.acquire(cost=0, max_wait_s=5)
        assert refused.kind == "full" and near(refused.wait_s, 0.51)
        assert queued.kind == "wait" and near(queued.wait_s, 0.51)  # the refused call took no place
        await slow.release(queued.member)  # its run gave up: the place is free again
        assert near((await slow.acquire(cost=0, max_wait_s=5)).wait_s, 0.51)

    async def test_a_used_up_daily_quota_answers_every_call_at_once(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        one, two = pace(client, prefix, rpm=1), pace(client, prefix, rpm=1)
        sent = await one.acquire(cost=0, max_wait_s=60)
        waiting = await two.acquire(cost=0, max_wait_s=60)
        assert waiting.kind == "wait"
        await one.day_closed(sent.member, 900)

        assert (await two.acquire(cost=0, max_wait_s=60)).kind == "day"
        assert (await two.confirm(waiting.member)).kind == "day"
        other = Pace(client, prefix, "gemini-2.5-flash-lite", rpm=3, tpm=None, breaker_failures=2,
                     breaker_cooldown_s=0.3, probe_lease_s=5.0)  # fmt: skip
        assert (await other.acquire(cost=0, max_wait_s=60)).kind == "go"  # quotas are per model


class TestBreaker:
    async def test_failures_open_it_one_probe_goes_and_its_success_closes_it(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        one, two = pace(client, prefix, rpm=None), pace(client, prefix, rpm=None)
        first = await one.acquire(cost=0, max_wait_s=60)
        second = await two.acquire(cost=0, max_wait_s=60)
        assert (await one.failed(first.member)).breaker == "closed"
        assert (await two.failed(second.member)).breaker == "open"  # two in a row, across processes

        held = [await p.acquire(cost=0, max_wait_s=60) for p in (one, two, one)]
        for grant in held:
            assert grant.kind == "wait" and grant.reason == "unavailable" and near(grant.wait_s, 0.3)
        await asyncio.sleep(0.3)
        probe = await one.confirm(held[0].member)
        assert probe.kind == "go" and probe.probe and probe.breaker == "half"
        for grant in held[1:]:  # the others hold while the probe is out
            holding = await two.confirm(grant.member)
            assert holding.kind == "wait" and holding.reason == "unavailable" and not holding.probe

        assert (await one.succeeded(probe.member)).breaker == "closed"
        assert [(await two.confirm(g.member)).kind for g in held[1:]] == ["go", "go"]

    async def test_a_failed_probe_opens_it_again_for_twice_as_long(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        breaker = pace(client, prefix, rpm=None)
        for _ in range(2):
            await breaker.failed((await breaker.acquire(cost=0, max_wait_s=60)).member)
        waiting = await breaker.acquire(cost=0, max_wait_s=60)
        await asyncio.sleep(waiting.wait_s)
        probe = await breaker.confirm(waiting.member)
        assert probe.probe

        reopened = await breaker.failed(probe.member)
        assert reopened.breaker == "open"
        again = await breaker.acquire(cost=0, max_wait_s=60)
        assert again.kind == "wait" and near(again.wait_s, 0.6)

    async def test_a_probe_given_up_lets_the_next_caller_probe(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        breaker = pace(client, prefix, rpm=None)
        for _ in range(2):
            await breaker.failed((await breaker.acquire(cost=0, max_wait_s=60)).member)
        first, second = [await breaker.acquire(cost=0, max_wait_s=60) for _ in range(2)]
        await asyncio.sleep(0.3)
        assert (await breaker.confirm(first.member)).probe
        assert (await breaker.confirm(second.member)).kind == "wait"
        await breaker.release(first.member)  # its run was cancelled before it sent
        assert (await breaker.confirm(second.member)).probe

    async def test_a_429_from_the_probe_closes_it_and_pauses(self, client, prefix) -> None:  # type: ignore[no-untyped-def]
        breaker = pace(client, prefix, rpm=None)
        for _ in range(2):
            await breaker.failed((await breaker.acquire(cost=0, max_wait_s=60)).member)
        waiting = await breaker.acquire(cost=0, max_wait_s=60)
        await asyncio.sleep(waiting.wait_s)
        probe = await breaker.confirm(waiting.member)
        limited = await breaker.limited(probe.member, 0.5)
        assert limited.breaker == "closed" and limited.reason == "paused"
        after = await breaker.acquire(cost=0, max_wait_s=60)
        assert after.reason == "paused" and near(after.wait_s, 0.5)
