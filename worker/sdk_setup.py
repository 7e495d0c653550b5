"""The Agents SDK's per-run set-up, made cheaper for agents without handoffs (the worker's one agent).

Every run builds the SDK's sandbox runtime, even with no sandbox configured, and it computes a key for each
agent reachable from the starting one: to tell apart agents that share a name it serialises each one's
instructions, model settings and every tool's JSON schema to JSON and sorts by that. With hundreds of runs
in flight that was 6% of the worker's CPU (docs/performance.md, #19.4). An agent without handoffs reaches
only itself, and the SDK's key for it is its name; agents with handoffs keep the SDK's computation.
`tests/unit/test_sdk_setup.py` checks both against the SDK's own function.
"""

from typing import Any

from agents import Agent
from agents import _run_state_agent_identity as identity
from agents.run_internal import tool_use_tracker
from agents.sandbox import runtime_session_manager

_sdk_identity_keys = identity._build_agent_identity_keys_by_id
# The modules that compute the keys on every run (a run state's serialisation, which is rare, keeps the
# SDK's own).
_PER_RUN = (runtime_session_manager, tool_use_tracker)


def identity_keys_by_id(initial_agent: Agent[Any]) -> dict[int, str]:
    if not initial_agent.handoffs:
        return {id(initial_agent): initial_agent.name}
    return _sdk_identity_keys(initial_agent)


def install() -> None:
    for module in _PER_RUN:
        module._build_agent_identity_keys_by_id = identity_keys_by_id  # type: ignore[attr-defined]
