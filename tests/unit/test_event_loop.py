"""Async code never enqueues with a blocking call: the broker's `enqueue` (and an actor's `send`) make
synchronous Redis round trips, which on the event loop stall every run in flight. From async code, send
with `common.jobs.RunQueue` (awaited), or hand the call to a thread (`asyncio.to_thread`)."""

import ast

import pytest

from tests.unit.test_architecture import ROOT, application_files

BLOCKING = {"enqueue", "send", "send_with_options"}


def blocking_enqueues(source: str) -> list[str]:
    """Calls of `.enqueue`/`.send`/`.send_with_options` that an `async def` makes without awaiting them."""
    problems: list[str] = []

    def visit(node: ast.AST, in_async: bool, awaited: bool = False) -> None:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef | ast.Lambda):
            in_async = isinstance(node, ast.AsyncFunctionDef)
        if (
            in_async
            and not awaited
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in BLOCKING
        ):
            problems.append(f"line {node.lineno}: .{node.func.attr}() on the event loop")
        for child in ast.iter_child_nodes(node):
            visit(child, in_async, awaited=isinstance(node, ast.Await) and child is node.value)

    visit(ast.parse(source), in_async=False)
    return problems


def test_no_async_function_enqueues_with_a_blocking_call() -> None:
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in application_files()
        for problem in blocking_enqueues(path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "async def f():\n    dramatiq.get_broker().enqueue(message, delay=500)",
        "async def f():\n    run_chat.send(1)",
        "async def f():\n    x = [broker.enqueue(m) for m in messages]",
    ],
)
def test_the_check_catches(source: str) -> None:
    assert blocking_enqueues(source)


@pytest.mark.parametrize(
    "source",
    [
        "async def f():\n    await queue.send(message)",
        "async def f():\n    await asyncio.to_thread(broker.enqueue, message)",
        "def f():\n    broker.enqueue(message)",
        "async def f():\n    def g():\n        broker.enqueue(message)\n    await asyncio.to_thread(g)",
    ],
)
def test_the_check_lets_awaited_and_threaded_sends_pass(source: str) -> None:
    assert blocking_enqueues(source) == []
