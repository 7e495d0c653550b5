from types import SimpleNamespace

from mcp_tools.ledger import META_CALL_KEY, META_RUN_ID
from worker.tools import META_USER_ID, RunContext, _without_user_id, resolve_meta


class TestHiddenUserId:
    def test_user_id_is_removed_from_the_schema_the_model_sees(self) -> None:
        from mcp_types import Tool

        tool = Tool(
            name="add_task",
            input_schema={
                "type": "object",
                "properties": {"user_id": {"type": "string"}, "title": {"type": "string"}},
                "required": ["user_id", "title"],
            },
        )
        hidden = _without_user_id(tool)
        assert hidden.input_schema["properties"].keys() == {"title"}
        assert hidden.input_schema["required"] == ["title"]
        assert "user_id" in tool.input_schema["properties"]  # the original is untouched

    def test_meta_carries_the_runs_user_and_numbers_repeated_calls(self) -> None:
        run = RunContext(run_id=7, user_id="alice")

        def meta(args: dict[str, object]) -> dict[str, object]:
            ctx = SimpleNamespace(
                run_context=SimpleNamespace(context=run), tool_name="add_task", arguments=args
            )
            return resolve_meta(ctx)  # type: ignore[arg-type]

        first = meta({"title": "milk", "user_id": "mallory"})
        second = meta({"title": "milk"})
        other = meta({"title": "eggs"})
        assert first[META_USER_ID] == "alice" and first[META_RUN_ID] == 7
        assert first[META_CALL_KEY] != second[META_CALL_KEY]
        assert first[META_CALL_KEY].rsplit(":", 1)[0] == second[META_CALL_KEY].rsplit(":", 1)[0]
        assert other[META_CALL_KEY].endswith(":1")


class TestToolFailures:
    def test_an_unreachable_database_is_raised_so_the_run_is_retried(self) -> None:
        import pytest
        from agents.exceptions import AgentsException
        from sqlalchemy.exc import OperationalError

        from worker.tools import tool_failure

        down = OperationalError("INSERT …", {}, ConnectionRefusedError("connection refused"))
        wrapped = AgentsException("Error invoking MCP tool add_task")
        wrapped.__cause__ = down
        with pytest.raises(OperationalError):
            tool_failure(SimpleNamespace(), wrapped)

    def test_any_other_failure_is_told_to_the_model(self) -> None:
        from worker.tools import tool_failure

        text = tool_failure(SimpleNamespace(), ValueError("bad arguments"))
        assert "error occurred" in text.lower()

    def test_the_run_finds_the_database_error_under_the_sdks_wrapping(self) -> None:
        from agents.exceptions import UserError
        from sqlalchemy.exc import OperationalError

        from worker.run import _retry_cause

        down = OperationalError("INSERT …", {}, ConnectionRefusedError("connection refused"))
        wrapped = UserError("Error running tool add_task: …")
        wrapped.__cause__ = down
        assert _retry_cause(wrapped) is down
        assert _retry_cause(UserError("Error running tool add_task: bad arguments")) is None
