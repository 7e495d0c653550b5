from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from common.models import USER_ID_MAX
from common.settings import get_settings

PG_INT_MAX = 2**31 - 1
MESSAGE_MAX = 4000  # the contract's limit (DESIGN.md §4); MAX_MESSAGE_CHARS can lower it
ConversationId = Annotated[int, Field(ge=1, le=PG_INT_MAX)]


def _storable(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates (which UTF-8 cannot encode)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


UserId = Annotated[str, Field(min_length=1, max_length=USER_ID_MAX), AfterValidator(_storable)]


def _json_integer(value: object) -> object:
    """An integer as JSON Schema means it (`12` or `12.0`), not pydantic's lax one, which would also read
    `"12"` as 12 and `true` as conversation 1."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be an integer")
    return value


# The message rule as a pattern, so that the OpenAPI document states it: 1 to 4000 characters once leading
# and trailing whitespace is trimmed, and no NUL. The validator below is what enforces it.
MESSAGE_PATTERN = r"^\s*[^\s\x00](?:[^\x00]{0,3998}[^\s\x00])?\s*$"


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def _zone_enum(schema: dict[str, Any]) -> None:
    """The OpenAPI document lists the zones, so that clients (and schemathesis) know which are valid."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["enum"] = sorted(known_time_zones())


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        description="What the user typed: 1 to 4000 characters after trimming.",
        json_schema_extra={"pattern": MESSAGE_PATTERN},
    )
    conversation_id: Annotated[ConversationId, BeforeValidator(_json_integer)] | None = Field(
        default=None, description="Continue this conversation."
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="The user's IANA time zone (Europe/Berlin): dates are read and shown in it. It is "
        "remembered for the user; without one the last one given (or UTC) is used.",
        examples=["Europe/Berlin"],
        json_schema_extra=lambda schema: _zone_enum(schema),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in known_time_zones():
            raise ValueError(f"unknown time zone {value[:64]!r} (use an IANA name such as Europe/Berlin)")
        return value

    @field_validator("message")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("message must not be empty")
        limit = min(MESSAGE_MAX, get_settings().max_message_chars)  # operators may lower it, not raise it
        if len(value) > limit:
            raise ValueError(f"message must be at most {limit} characters after trimming (got {len(value)})")
        return _storable(value)


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


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(description='"ok" or "unavailable: <reason>" for postgres and redis.')


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
