"""The per-user in-flight cap holds under concurrency: one statement behind the user's lock, shared by a
new message and ChatKit's retry of an old one. No worker runs here, so every accepted run stays queued."""

import asyncio

import pytest
from sqlmodel import col, func, select

from api.schemas import ChatRequest
from api.services.chat import resubmit_message, submit_message
from common.errors import RateLimited
from common.models import Message, Run

CAP = 5


async def _submit(db, user_id: str, text: str) -> bool:
    try:
        await submit_message(
            db, user_id=user_id, request=ChatRequest(message=text), idempotency_key=None, max_inflight=CAP
        )
    except RateLimited:
        return False
    return True


async def _count(sessions, model, user_id: str) -> int:
    async with sessions() as s:
        return (await s.exec(select(func.count()).select_from(model).where(model.user_id == user_id))).one()


class TestInflightCap:
    async def test_concurrent_messages_never_exceed_the_cap(self, db, sessions, user_id) -> None:
        accepted = await asyncio.gather(*(_submit(db, user_id, f"add task {n}") for n in range(24)))
        assert accepted.count(True) == CAP
        assert await _count(sessions, Run, user_id) == CAP
        # A refused message leaves nothing behind: no message without its run.
        assert await _count(sessions, Message, user_id) == CAP

    async def test_retries_of_an_old_message_share_the_same_cap(self, db, sessions, user_id) -> None:
        assert await _submit(db, user_id, "add milk")
        async with sessions() as s:
            message = (await s.exec(select(Message).where(Message.user_id == user_id))).one()

        async def retry() -> bool:
            try:
                await resubmit_message(
                    db,
                    user_id=user_id,
                    conversation_id=message.conversation_id,
                    message_id=message.id,
                    max_inflight=CAP,
                )
            except RateLimited:
                return False
            return True

        results = await asyncio.gather(*(retry() for _ in range(12)), _submit(db, user_id, "add eggs"))
        assert results.count(True) == CAP - 1
        async with sessions() as s:
            runs = (await s.exec(select(Run).where(Run.user_id == user_id).order_by(col(Run.id)))).all()
        assert len(runs) == CAP

    async def test_a_retry_of_another_users_message_is_not_found(self, db, user_id) -> None:
        assert await _submit(db, user_id, "add milk")
        from common.errors import NotFound

        with pytest.raises(NotFound):
            await resubmit_message(
                db, user_id="someone-else", conversation_id=1, message_id=1, max_inflight=CAP
            )


class TestPlacesComeBack:
    async def test_an_answered_run_gives_its_place_back(self, settings, db, sessions, user_id) -> None:
        from worker.run import run_chat_job
        from worker.runtime import Runtime

        for n in range(CAP):
            assert await _submit(db, user_id, f"add task {n}")
        assert not await _submit(db, user_id, "one too many")
        rt = await Runtime.create(settings)
        try:
            async with sessions() as s:
                first = (
                    await s.exec(select(Run).where(Run.user_id == user_id).order_by(col(Run.id)))
                ).first()
            await run_chat_job(rt, first.id)
        finally:
            await rt.close()
        assert await _in_flight(sessions, user_id) == CAP - 1
        assert await _submit(db, user_id, "now there is room")
        assert not await _submit(db, user_id, "but only for one")

    async def test_the_sweeper_recounts_a_count_that_drifted(self, settings, db, sessions, user_id) -> None:
        from datetime import timedelta

        from common.models import UserState, utcnow
        from worker.sweeper import _RECOUNT, RECOUNT_AFTER

        assert await _submit(db, user_id, "add milk")
        async with sessions() as s:  # drift: the count says the cap is full, one run is in flight
            state = await s.get(UserState, user_id)
            state.runs_in_flight, state.updated_at = CAP, utcnow() - RECOUNT_AFTER - timedelta(seconds=1)
            await s.commit()
        assert not await _submit(db, user_id, "refused while the count is wrong")
        await db.execute(_RECOUNT, {"recount_after": RECOUNT_AFTER})
        assert await _in_flight(sessions, user_id) == 1
        assert await _submit(db, user_id, "accepted after the recount")


async def _in_flight(sessions, user_id: str) -> int:
    from common.models import UserState

    async with sessions() as s:
        return (await s.get(UserState, user_id)).runs_in_flight
