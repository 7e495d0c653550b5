"""Production mode, the default TASKCHAT_ENV: no development keys and no development tokens, and an API
without a key source does not start. (The test run itself is in development: tests/conftest.py.)"""

import json

import httpx
import pytest

from common.auth import KeySet
from common.devkeys import ensure_keyset, mint_token
from common.errors import ConfigError
from common.settings import Settings
from tests.helpers import ServerThread, free_port

NO_KEY_SOURCE = (
    "no Better Auth key source: set BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL, or AUTH_JWKS_FILE); "
    "for local development keys set TASKCHAT_ENV=development"
)


def production(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"taskchat_env": "production", "auth_jwks_file": None, **changes})


class TestStart:
    def test_the_default_environment_is_production(self, monkeypatch) -> None:
        monkeypatch.delenv("TASKCHAT_ENV")
        settings = Settings(_env_file=None)
        assert settings.taskchat_env == "production" and not settings.development
        assert settings.jwks_file is None and not settings.dev_tokens

    def test_an_app_without_a_key_source_refuses_to_start(self, settings, tmp_path) -> None:
        from api.main import create_app

        bare = production(settings, taskchat_home=tmp_path)
        with pytest.raises(ConfigError) as refused:
            create_app(bare)
        assert str(refused.value) == NO_KEY_SOURCE
        with pytest.raises(ConfigError):  # nor can anything else build a verifier on it
            KeySet(bare, None)
        with pytest.raises(ConfigError, match="^development tokens need the local key set"):
            mint_token(bare, "demo")
        assert list(tmp_path.iterdir()) == []  # no development key set was made

    def test_a_key_file_that_is_not_there_refuses_to_start(self, settings, tmp_path) -> None:
        from api.main import create_app

        missing = tmp_path / "jwks.json"
        with pytest.raises(ConfigError) as refused:
            create_app(production(settings, auth_jwks_file=missing))
        assert str(refused.value) == f"AUTH_JWKS_FILE {missing} does not exist"
        assert not missing.exists()

    def test_development_starts_with_its_local_key_set(self, settings, tmp_path) -> None:
        from api.main import create_app

        local = settings.model_copy(update={"taskchat_home": tmp_path, "auth_jwks_file": None})
        assert local.development and local.jwks_file == tmp_path / "dev-jwks.json" and local.dev_tokens
        create_app(local)  # no error: the key set is made on first use (test_development_still_mints)


@pytest.fixture
def key_file(tmp_path):  # type: ignore[no-untyped-def]
    """An explicit key set, as a deployment without a Better Auth URL would configure it."""
    path = tmp_path / "jwks.json"
    ensure_keyset(path)
    return path


class TestNoDevTokens:
    async def test_dev_token_is_404_even_from_loopback_and_the_page_asks_for_a_token(
        self, settings, key_file, user_id
    ) -> None:
        from api.main import create_app

        deployed = production(settings, auth_jwks_file=key_file)
        assert not deployed.dev_tokens
        port = free_port()
        with ServerThread(create_app(deployed), port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                attempts = [
                    await http.post("/api/dev-token", json={"user_id": "demo"}, headers={"Host": host})
                    for host in ("127.0.0.1", "localhost", f"127.0.0.1:{port}")
                ]
                page = await http.get("/")
                auth = {"Authorization": f"Bearer {mint_token(deployed, user_id)}"}
                signed_in = await http.get(f"/api/{user_id}/conversations", headers=auth)
        for response in attempts:
            assert response.status_code == 404
            assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}
        assert page.status_code == 200 and '<body data-dev-tokens="off">' in page.text
        assert signed_in.status_code == 200  # the configured key set is what it trusts
        assert json.loads(key_file.read_text())["keys"][0]["kid"]

    async def test_development_still_mints(self, http, user_id) -> None:
        page = await http.get("/")
        minted = await http.post("/api/dev-token", json={"user_id": user_id}, headers={"Host": "127.0.0.1"})
        assert '<body data-dev-tokens="on">' in page.text
        assert minted.status_code == 200 and minted.json()["user_id"] == user_id
        auth = {"Authorization": f"Bearer {minted.json()['token']}"}
        assert (await http.get(f"/api/{user_id}/conversations", headers=auth)).status_code == 200
