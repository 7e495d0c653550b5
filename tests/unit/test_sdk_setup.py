"""worker/sdk_setup.py: the cheaper per-run agent keys agree with the Agents SDK's own."""

from types import SimpleNamespace

import pytest
from agents import Agent, FunctionTool, ModelSettings, function_tool
from agents import _run_state_agent_identity as identity
from agents.run_internal import tool_use_tracker
from agents.sandbox import runtime_session_manager

from worker import sdk_setup


@function_tool
def add_task(title: str, due_at: str | None = None) -> str:
    """Adds a task."""
    return title


def _agent(name: str = "taskchat", **kwargs: object) -> Agent[None]:
    tools: list[FunctionTool] = [add_task]
    return Agent(name=name, instructions="You manage tasks.", tools=tools, **kwargs)  # type: ignore[arg-type]


SDK_KEYS = identity._build_agent_identity_keys_by_id


def test_an_agent_without_handoffs_is_keyed_by_its_name_as_the_sdk_keys_it() -> None:
    agent = _agent(model_settings=ModelSettings(temperature=0.2))
    assert sdk_setup.identity_keys_by_id(agent) == SDK_KEYS(agent) == {id(agent): "taskchat"}


def test_agents_with_handoffs_keep_the_sdks_keys() -> None:
    twin_a, twin_b = _agent("helper"), _agent("helper", handoff_description="the other one")
    root = _agent(handoffs=[twin_a, twin_b])
    keys = sdk_setup.identity_keys_by_id(root)
    assert keys == SDK_KEYS(root)
    assert sorted(keys.values()) == ["helper", "helper#2", "taskchat"]


def test_installed_where_every_run_computes_the_keys() -> None:
    sdk_setup.install()
    assert runtime_session_manager._build_agent_identity_keys_by_id is sdk_setup.identity_keys_by_id
    assert tool_use_tracker._build_agent_identity_keys_by_id is sdk_setup.identity_keys_by_id


def test_a_new_agent_is_a_copy_of_the_template_with_its_own_tools() -> None:
    """worker/run.py builds the first agent once and copies it after that (no __post_init__ again)."""
    from worker.run import _new_agent

    rt = SimpleNamespace(agent_template=None, model=None, function_tools=[add_task])
    first, second = _new_agent(rt), _new_agent(rt)  # type: ignore[arg-type]
    template = rt.agent_template
    assert template is not None and len({id(template), id(first), id(second)}) == 3
    assert first.tools is not second.tools and first.tools is not template.tools
    assert first.tools == second.tools == [add_task]
    assert first.model_settings == ModelSettings(temperature=0.2)
    first.instructions = "Other instructions."
    first.tools.clear()
    assert second.instructions is None and second.tools == [add_task] and template.tools == [add_task]
    assert sdk_setup.identity_keys_by_id(second) == {id(second): "taskchat"}


@pytest.mark.parametrize("module", [runtime_session_manager, tool_use_tracker])
def test_the_sdk_still_computes_keys_where_they_are_patched(module: object) -> None:
    """An SDK upgrade that stops calling the function by that name would leave the patch doing nothing."""
    import inspect

    assert "_build_agent_identity_keys_by_id(" in inspect.getsource(module)
