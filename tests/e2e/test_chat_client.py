"""`taskchat chat` streams an answer in a real terminal session (driven through a pipe)."""

import os
import subprocess
import sys


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
