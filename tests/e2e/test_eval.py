"""`taskchat eval` against real processes: the offline model passes every corpus case."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

CORPORA = sorted((Path(__file__).parents[1] / "eval").glob("*.jsonl"))


@pytest.mark.parametrize("corpus", CORPORA, ids=[c.stem for c in CORPORA])
def test_the_offline_model_passes_the_corpus(processes, corpus) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskchat.cli",
            "eval",
            str(corpus),
            "--url",
            processes[0],
            "--min-accuracy",
            "1.0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "accuracy 100.0%" in result.stdout
