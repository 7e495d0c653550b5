"""Our JWT auth against a REAL Better Auth server (tests/betterauth/server.mjs: memory adapter, email and
password, the jwt() plugin with the API's URL as audience). A user signs up, trades the session cookie
for a JWT at /api/auth/token, and chats with a taskchat API that trusts only that server's JWKS.

Needs Node.js 20.19+ and npm: the fixture runs `npm ci` in tests/betterauth when its packages are missing
or stale. Without Node.js the tests skip and say what to install, except in CI (CI=true) where they fail."""

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from sqlmodel import select

from common.models import Task
from tests.helpers import ServerThread, free_port

SERVER_DIR = Path(__file__).parents[1] / "betterauth"
CI = os.environ.get("CI") == "true"


@dataclass(frozen=True)
class BetterAuth:
    url: str  # its baseURL, which is also the tokens' issuer
    api_url: str  # where the taskchat API under test listens; the tokens' audience


@dataclass(frozen=True)
class User:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


NODE_MINIMUM = (20, 19)  # what better-auth's dependencies declare in package-lock.json
INSTALL_NODE = "install Node.js 20.19 or newer with npm (nodejs.org; Debian 12's nodejs is 18)"


def _node_problem() -> str | None:
    """Why the Better Auth server cannot run here, after installing its packages if needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return f"{'node' if node is None else 'npm'} is not installed: {INSTALL_NODE}"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if tuple(int(part) for part in version.lstrip("v").split(".")[:2]) < NODE_MINIMUM:
        return f"node is {version}: {INSTALL_NODE}"
    wanted = json.loads((SERVER_DIR / "package.json").read_text())["dependencies"]["better-auth"]
    try:
        installed = json.loads((SERVER_DIR / "node_modules" / "better-auth" / "package.json").read_text())
    except (OSError, ValueError):
        installed = {}
    if installed.get("version") != wanted:
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=SERVER_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode:
            return f"`npm ci` in {SERVER_DIR} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return None


@pytest.fixture(scope="session")
def better_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BetterAuth]:
    problem = _node_problem()
    if problem:
        if CI:
            pytest.fail(f"The Better Auth tests must run in CI: {problem}", pytrace=False)
        pytest.skip(f"No Better Auth server: {problem}")
    node = shutil.which("node")
    assert node is not None
    port, api_port = free_port(), free_port()
    url, api_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
    log_path = tmp_path_factory.mktemp("betterauth") / "server.log"
    env = {**os.environ, "PORT": str(port), "BASE_URL": url, "JWT_AUDIENCE": api_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, "server.mjs"], cwd=SERVER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Better Auth exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/api/auth/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Better Auth did not come up:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield BetterAuth(url=url, api_url=api_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def ba_api_url(better_auth: BetterAuth, settings, worker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second taskchat API, same database and Redis, that trusts only the Better Auth server."""
    from api.main import create_app

    ba_settings = settings.model_copy(
        update={
            "better_auth_url": better_auth.url,
            "better_auth_jwks_url": f"{better_auth.url}/api/auth/jwks",
            "better_auth_issuer": better_auth.url,
            "better_auth_audience": better_auth.api_url,
            "auth_jwks_file": None,
            "taskchat_env": "production",  # as deployed: Better Auth is the only key source
        }
    )
    with ServerThread(create_app(ba_settings), int(better_auth.api_url.rsplit(":", 1)[1])):
        yield better_auth.api_url


@pytest.fixture
async def http(ba_api_url: str):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=ba_api_url, timeout=30) as client:
        yield client


async def sign_up(better_auth: BetterAuth) -> User:
    """Email sign-up, then the session cookie (and nothing else) is traded for a JWT."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    async with httpx.AsyncClient(base_url=better_auth.url, timeout=10) as client:
        response = await client.post(
            "/api/auth/sign-up/email",
            json={"email": email, "password": "correct-horse-battery-staple", "name": "Test User"},
        )
    assert response.status_code == 200, response.text
    user_id = response.json()["user"]["id"]
    cookie = response.cookies["better-auth.session_token"]
    async with httpx.AsyncClient(base_url=better_auth.url, timeout=10) as client:
        assert (await client.get("/api/auth/token")).status_code == 401
        token = await client.get("/api/auth/token", headers={"Cookie": f"better-auth.session_token={cookie}"})
    assert token.status_code == 200, token.text
    return User(id=user_id, token=token.json()["token"])


async def test_better_auth_issues_the_tokens_we_expect(better_auth: BetterAuth) -> None:
    """Pins what Better Auth 1.7 puts in its tokens; an upgrade that changes it fails here first."""
    user = await sign_up(better_auth)
    jwks = httpx.get(f"{better_auth.url}/api/auth/jwks", timeout=5).json()
    header, claims = (
        jwt.get_unverified_header(user.token),
        jwt.decode(user.token, options={"verify_signature": False}),
    )
    assert header == {"alg": "EdDSA", "kid": jwks["keys"][0]["kid"]}
    assert [(k["kty"], k["crv"], k["alg"]) for k in jwks["keys"]] == [("OKP", "Ed25519", "EdDSA")]
    assert claims["sub"] == claims["id"] == user.id
    assert (claims["iss"], claims["aud"]) == (better_auth.url, better_auth.api_url)
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert abs(claims["iat"] - time.time()) < 60
    assert {"email", "name", "emailVerified"} <= claims.keys() and not {"nbf", "jti"} & claims.keys()


async def test_a_signed_up_user_chats_and_the_task_is_theirs(better_auth, http, sessions) -> None:  # type: ignore[no-untyped-def]
    user = await sign_up(better_auth)
    response = await http.post(
        f"/api/{user.id}/chat", json={"message": "Add a task to buy milk"}, headers=user.auth
    )
    assert response.status_code == 200, response.text
    assert [c["name"] for c in response.json()["tool_calls"]] == ["add_task"]
    async with sessions() as s:
        tasks = (await s.exec(select(Task).where(Task.user_id == user.id))).all()
    assert [(t.title, t.completed) for t in tasks] == [("Buy milk", False)]
    history = await http.get(
        f"/api/{user.id}/conversations/{response.json()['conversation_id']}/messages", headers=user.auth
    )
    assert history.status_code == 200 and [m["role"] for m in history.json()["messages"]] == [
        "user",
        "assistant",
    ]


async def test_another_user_cannot_reach_the_first_users_data(better_auth, http, sessions) -> None:  # type: ignore[no-untyped-def]
    first, second = await sign_up(better_auth), await sign_up(better_auth)
    chat = await http.post(
        f"/api/{first.id}/chat", json={"message": "Add a task to buy milk"}, headers=first.auth
    )
    assert chat.status_code == 200, chat.text
    conversation = chat.json()["conversation_id"]

    read = await http.get(f"/api/{second.id}/conversations/{conversation}/messages", headers=second.auth)
    assert read.status_code == 404 and read.json()["error"]["code"] == "not_found"
    listing = await http.get(f"/api/{second.id}/conversations", headers=second.auth)
    assert listing.status_code == 200 and listing.json()["conversations"] == []
    for response in (
        await http.post(
            f"/api/{first.id}/chat", json={"message": "Delete all my tasks"}, headers=second.auth
        ),
        await http.get(f"/api/{first.id}/conversations", headers=second.auth),
        await http.get(f"/api/{first.id}/conversations/{conversation}/messages", headers=second.auth),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    async with sessions() as s:
        assert [t.title for t in (await s.exec(select(Task).where(Task.user_id == first.id))).all()] == [
            "Buy milk"
        ]
        assert (await s.exec(select(Task).where(Task.user_id == second.id))).all() == []


async def test_a_better_auth_token_with_a_swapped_sub_is_401(better_auth, http) -> None:  # type: ignore[no-untyped-def]
    first, second = await sign_up(better_auth), await sign_up(better_auth)
    header, payload, signature = second.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = claims["id"] = first.id
    forged = ".".join(
        (header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), signature)
    )
    response = await http.get(f"/api/{first.id}/conversations", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_api_trusting_another_issuer_refuses_better_auth_tokens(better_auth, api_url) -> None:  # type: ignore[no-untyped-def]
    """The normal test API trusts the development key set only: a genuine Better Auth token is 401 there."""
    user = await sign_up(better_auth)
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get(f"/api/{user.id}/conversations", headers=user.auth)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
