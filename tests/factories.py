"""Test factories: rows as the API would create them."""

from sqlmodel import col, select

from common.models import Conversation, Message, Role, Run, ToolCall


async def new_run(sessions, user_id: str, text: str, conversation_id: int | None = None) -> Run:
    async with sessions() as s:
        if conversation_id is None:
            conversation = Conversation(user_id=user_id)
            s.add(conversation)
            await s.flush()
            conversation_id = conversation.id
        message = Message(user_id=user_id, conversation_id=conversation_id, role=Role.user, content=text)
        s.add(message)
        await s.flush()
        run = Run(user_id=user_id, conversation_id=conversation_id, user_message_id=message.id)
        s.add(run)
        await s.commit()
        return run


async def reload(sessions, run_id: int) -> tuple[Run, Message | None, list[ToolCall]]:
    async with sessions() as s:
        run = await s.get(Run, run_id)
        answer = await s.get(Message, run.assistant_message_id) if run.assistant_message_id else None
        calls = (
            await s.exec(select(ToolCall).where(ToolCall.run_id == run_id).order_by(col(ToolCall.seq)))
        ).all()
        return run, answer, list(calls)
