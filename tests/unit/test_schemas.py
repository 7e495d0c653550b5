import pytest
from pydantic import ValidationError

from api.schemas import ChatRequest
from common.settings import get_settings


@pytest.fixture
def message_limit(monkeypatch):
    def set_limit(chars: int) -> None:
        monkeypatch.setenv("MAX_MESSAGE_CHARS", str(chars))
        get_settings.cache_clear()

    yield set_limit
    monkeypatch.undo()
    get_settings.cache_clear()


class TestChatRequest:
    def test_message_is_trimmed_and_limited_to_4000(self) -> None:
        assert ChatRequest(message="  " + "x" * 4000 + "\n").message == "x" * 4000
        with pytest.raises(ValidationError):
            ChatRequest(message="x" * 4001)

    def test_operators_can_lower_the_limit_but_not_raise_it(self, message_limit) -> None:
        message_limit(10)
        assert ChatRequest(message="x" * 10).message == "x" * 10
        with pytest.raises(ValidationError, match="at most 10 characters"):
            ChatRequest(message="x" * 11)
        message_limit(10_000)
        with pytest.raises(ValidationError, match="at most 4000 characters"):
            ChatRequest(message="x" * 4001)
