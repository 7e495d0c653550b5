"""Schema-driven fuzzing (issue #6): schemathesis generates requests for every operation of the app's own
OpenAPI document, valid and invalid, and checks that none is answered with a 5xx and that every response
is the one the document promises (status code, content type, headers, body schema), besides its other
built-in checks (valid data accepted, invalid data rejected, unsupported methods 405, ...). Requests run as
one fixed user with a valid token, so they get past authentication and reach validation, the database,
the queue and the offline model through the real worker.

Schemathesis' engine (what `st run` uses) drives the run rather than its pytest plugin, which does not
work with pytest 9 (it writes `Node._nodeid`, which pytest 9 no longer has). A fixed seed and
derandomized generation make the generated requests the same on every run."""

import collections
from typing import NamedTuple

import httpx
import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, StopReason, events

from common.devkeys import mint_token

USER = "schemathesis-user"
SEED = 60_606
MAX_EXAMPLES = 250  # per operation in the fuzzing phase; the coverage and stateful phases add their own
MIN_REQUESTS = 1_000
USER_SCOPED = (
    "POST /api/{user_id}/chat",
    "GET /api/{user_id}/conversations",
    "GET /api/{user_id}/conversations/{conversation_id}/messages",
    "GET /api/{user_id}/tasks",
)
# An endless stream, which a fuzzer that reads whole bodies would wait on forever: tested in
# tests/integration/test_events_api.py.
NOT_FUZZED = "/api/{user_id}/events"


class Sent(NamedTuple):
    operation: str
    phase: str
    mode: str
    method: str
    status: int | None


class Outcome(NamedTuple):
    sent: collections.Counter[Sent]
    failures: list[str]
    errors: list[str]


def pinned_to_user(document: dict) -> dict:
    """The app's document with every `user_id` path parameter narrowed to the token's user. (A fixed value
    from schemathesis' `parameters` setting is not enough: its negative cases would still claim to have
    broken `user_id` and expect a 4xx for the valid request actually sent.)"""
    del document["paths"][NOT_FUZZED]
    pinned = 0
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "user_id":
                    parameter["schema"] = {"type": "string", "enum": [USER]}
                    pinned += 1
    assert pinned == len(USER_SCOPED), document["paths"].keys()
    return document


# A request with a header the document does not name is no invalid request: HTTP lets clients send any
# header (proxies, browsers and SDKs add their own), so an API that accepted it did right.
UNKNOWN_HEADER = "in header - object with unexpected properties"


def run_schemathesis(api_url: str, token: str) -> Outcome:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": api_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": True},
            # Go on after a failure: one tolerated case (UNKNOWN_HEADER) must not end an operation's phase.
            "continue-on-failure": True,
        }
    )
    document = httpx.get(f"{api_url}/openapi.json", timeout=10).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(pinned_to_user(document), config=config)
    outcome = Outcome(collections.Counter(), [], [])
    finished = None
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                case = recorder.cases[case_id].value
                outcome.sent[
                    Sent(
                        operation=case.operation.label,
                        phase=event.phase.value,
                        mode=case.meta.generation.mode.value if case.meta else "-",
                        method=interaction.request.method,
                        status=interaction.response.status_code if interaction.response else None,
                    )
                ] += 1
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        if UNKNOWN_HEADER in failure.message:
                            continue
                        outcome.failures.append(
                            f"[{check.name}] {recorder.label}: {failure.title}: {failure.message}\n"
                            f"    {check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            finished = event
    assert finished is not None and finished.stop_reason == StopReason.COMPLETED, finished
    return outcome


@pytest.mark.timeout(420)  # some 3,000 requests, on two shared cores
def test_the_api_keeps_its_schema_and_never_fails(api_url, settings) -> None:
    outcome = run_schemathesis(api_url, mint_token(settings, USER))
    total = sum(outcome.sent.values())
    print(f"\nschemathesis sent {total} requests:")  # noqa: T201
    for sent, count in sorted(outcome.sent.items(), key=str):
        print(f"  {count:5}  {sent.operation}  {sent.phase} {sent.mode}: {sent.method} -> {sent.status}")  # noqa: T201

    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, f"{len(outcome.failures)} failures:\n" + "\n".join(
        dict.fromkeys(outcome.failures)
    )
    assert total >= MIN_REQUESTS, outcome.sent
    assert not [sent for sent in outcome.sent if sent.status is None or sent.status >= 500]

    # The run must have got past authentication, into the database and through the worker and the model;
    # a broken token would leave only 401s, which the checks above alone would let pass.
    answered: collections.Counter[str] = collections.Counter()
    for sent, count in outcome.sent.items():
        if sent.status == 200:
            answered[sent.operation] += count
    assert all(answered[operation] >= 20 for operation in USER_SCOPED), answered
    chat_statuses = {sent.status for sent in outcome.sent if sent.operation == USER_SCOPED[0]}
    assert {200, 403, 405, 422} <= chat_statuses, chat_statuses
