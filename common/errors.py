"""Errors that carry their own HTTP status and code; the API renders them as
`{"error": {"code": ..., "message": ...}}` in one handler."""


class ConfigError(Exception):
    """The configuration cannot work: the process refuses to start, and the message says why in one line."""


class TaskchatError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(TaskchatError):
    status_code = 400
    code = "bad_request"


class Unauthorized(TaskchatError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "A valid bearer token is required.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(TaskchatError):
    status_code = 403
    code = "forbidden"


class NotFound(TaskchatError):
    status_code = 404
    code = "not_found"


class ConversationNotFound(NotFound):
    def __init__(self, conversation_id: int) -> None:
        super().__init__(f"Conversation {conversation_id} not found.")


class Conflict(TaskchatError):
    status_code = 409
    code = "conflict"


class RateLimited(TaskchatError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class InvalidInput(TaskchatError):
    status_code = 422
    code = "validation_error"


class Unavailable(TaskchatError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class RunTimeout(TaskchatError):
    status_code = 504
    code = "timeout"
