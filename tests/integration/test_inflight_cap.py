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
