"""`taskchat chat` streams an answer in a real terminal session (driven through a pipe)."""

import os
import subprocess
import sys

from tests.helpers import free_port


def chat(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskchat.cli", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_the_terminal_client_streams_answers(slow_stack, user_id) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "taskchat.cli", "chat", "--url", slow_stack, "--user", user_id],
        input="add a task to feed the cat\nwhat's pending?\n\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert "· add_task" in result.stdout and "Added “Feed the cat”" in result.stdout
    assert "· list_tasks" in result.stdout and "1. Feed the cat" in result.stdout


def test_a_refused_connection_is_one_plain_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = chat("--url", url, "--user", "demo", "--token", "x", stdin="add a task\n")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"taskchat chat: cannot reach {url} ([Errno 111] Connection refused); is taskchat running there? "
        "(--url)\n"
    )


def test_a_refused_token_is_one_plain_line_before_the_prompt(slow_stack, user_id) -> None:
    result = chat("--url", slow_stack, "--user", user_id, "--token", "not-a-jwt", stdin="add a task\n")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "taskchat chat: the server refused the token: The token is malformed. Use the one `taskchat dev` "
        "printed (--token or TASKCHAT_TOKEN).\n"
    )


def test_a_token_of_another_user_is_one_plain_line(slow_stack, user_id, settings) -> None:
    from common.devkeys import mint_token

    result = chat("--url", slow_stack, "--user", user_id, "--token", mint_token(settings, "someone-else"))
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert (
        result.stderr.startswith("taskchat chat: ") and "(--user must be the token's user.)" in result.stderr
    )
