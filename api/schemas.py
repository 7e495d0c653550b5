from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.models import USER_ID_MAX

PG_INT_MAX = 2**31 - 1
ConversationId = Annotated[int, Field(ge=1, le=PG_INT_MAX)]
UserId = Annotated[str, Field(min_length=1, max_length=USER_ID_MAX)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What the user typed: 1 to 4000 characters after trimming.")
    conversation_id: ConversationId | None = Field(default=None, description="Continue this conversation.")

    @field_validator("message")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("message must not be empty")
        if len(value) > 4000:
            raise ValueError(f"message must be at most 4000 characters after trimming (got {len(value)})")
        if "\x00" in value:
            raise ValueError("message must not contain NUL characters")
        return value


class ToolCallPublic(BaseModel):
    id: int
    name: str
    arguments: dict[str, Any]
    result: Any | None
    status: Literal["ok", "error"]
    error: str | None
    duration_ms: float


class ChatResponse(BaseModel):
    conversation_id: int
    message_id: int = Field(description="The assistant message's id.")
    run_id: int
    response: str
    tool_calls: list[ToolCallPublic]


class ConversationPublic(BaseModel):
    id: int
    created_at: datetime
    updated_at: datetime
    preview: str | None = Field(description="The conversation's first user message, shortened.")


class ConversationList(BaseModel):
    conversations: list[ConversationPublic]


class MessagePublic(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime
    run_id: int | None = None
    tool_calls: list[ToolCallPublic] | None = None


class MessageList(BaseModel):
    conversation_id: int
    messages: list[MessagePublic]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
