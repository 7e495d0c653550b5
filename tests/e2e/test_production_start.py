"""Real `taskchat` commands in production mode (the default) refuse to start without what they need,
with one line that says why and no traceback."""

import os
import subprocess
import sys

import pytest

from common.devkeys import ensure_keyset

NO_KEY_SOURCE = (
    "no Better Auth key source: set BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL, or AUTH_JWKS_FILE); "
    "for local development keys set TASKCHAT_ENV=development"
)
NO_SERVICE_TOKEN = (
    "MCP_SERVICE_TOKEN is not set; it must be at least 32 random characters "
    "(make one with: openssl rand -hex 32)"
)
SHORT_SERVICE_TOKEN = (
    "MCP_SERVICE_TOKEN has 19 characters; it must be at least 32 random characters "
    "(make one with: openssl rand -hex 32)"
)
UNSET = ("BETTER_AUTH_URL", "BETTER_AUTH_JWKS_URL", "AUTH_JWKS_FILE", "MCP_SERVICE_TOKEN", "MCP_URL")
GOOD_TOKEN = "0123456789abcdef0123456789abcdef01234567"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run(
        [sys.executable, "-m", "taskchat.cli", *args],
        env={**base, "TASKCHAT_ENV": "production", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("keys") / "jwks.json"
    ensure_keyset(path)
    return str(path)


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (("api", "--port", "1"), {}, f"taskchat api: {NO_KEY_SOURCE}"),
        (("worker",), {}, f"taskchat worker: {NO_KEY_SOURCE}"),
        (("mcp", "--port", "1"), {"MCP_SERVICE_TOKEN": GOOD_TOKEN}, f"taskchat mcp: {NO_KEY_SOURCE}"),
        (("mcp", "--port", "1"), {}, f"taskchat mcp: {NO_SERVICE_TOKEN}"),
        (
            ("mcp", "--port", "1"),
            {"MCP_SERVICE_TOKEN": "change-me-mcp-token", "BETTER_AUTH_URL": "https://auth.example.com"},
            f"taskchat mcp: {SHORT_SERVICE_TOKEN}",
        ),
        (
            ("worker",),
            {"BETTER_AUTH_URL": "https://auth.example.com", "MCP_URL": "http://127.0.0.1:1/mcp"},
            f"taskchat worker: {NO_SERVICE_TOKEN}",
        ),
        (
            ("token", "demo"),
            {},
            "taskchat token: development tokens need the local key set: TASKCHAT_ENV=development "
            "(as under `taskchat dev`), or AUTH_JWKS_FILE with a private key",
        ),
        (
            ("chat", "--url", "http://127.0.0.1:1"),
            {},
            "taskchat chat: give a token with --token or TASKCHAT_TOKEN (development tokens need the "
            "local key set: TASKCHAT_ENV=development (as under `taskchat dev`), or AUTH_JWKS_FILE with a "
            "private key)",
        ),
    ],
    ids=["api", "worker", "mcp-keys", "mcp-no-token", "mcp-short-token", "worker-mcp-url", "token", "chat"],
)
def test_refuses_to_start_with_one_line(args, env, line) -> None:
    result = run(*args, **env)
    assert (result.returncode, result.stderr.splitlines()) == (1, [line])


def test_an_explicit_key_file_is_a_key_source(key_file) -> None:
    # It gets past the check: the MCP server then wants its token, `taskchat token` signs with the file.
    assert run("mcp", "--port", "1", AUTH_JWKS_FILE=key_file).stderr.splitlines() == [
        f"taskchat mcp: {NO_SERVICE_TOKEN}"
    ]
    minted = run("token", "demo", AUTH_JWKS_FILE=key_file)
    assert minted.returncode == 0 and minted.stdout.count(".") == 2
