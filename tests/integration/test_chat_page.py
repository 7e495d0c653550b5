"""The built-in chat page's server side: the page itself, its development token, and the origin guard's
same-origin rule, against a real server."""

import base64
import hashlib
import re

import httpx
import pytest

from tests.helpers import ServerThread, free_port


class TestPage:
    async def test_one_self_contained_html_file_locked_to_its_own_origin(self, http) -> None:
        response = await http.get("/")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        html = response.text
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", html)  # nothing loaded from elsewhere
        assert not re.search(r"@import|url\(", html)
        (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        policy = response.headers["content-security-policy"]
        assert f"script-src 'sha256-{digest}'" in policy
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy

    async def test_the_page_and_its_token_endpoint_stay_out_of_the_api_schema(self, http) -> None:
        paths = (await http.get("/openapi.json")).json()["paths"]
        assert "/" not in paths and "/api/dev-token" not in paths


class TestDevToken:
    async def test_a_token_for_the_user_that_the_api_accepts(self, http, user_id) -> None:
        response = await http.post("/api/dev-token", json={"user_id": user_id})
        assert response.status_code == 200 and response.json()["user_id"] == user_id
        auth = {"Authorization": f"Bearer {response.json()['token']}"}
        assert (await http.get(f"/api/{user_id}/conversations", headers=auth)).status_code == 200
        assert (await http.get("/api/someone-else/conversations", headers=auth)).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [{}, {"user_id": ""}, {"user_id": "a/b"}, {"user_id": "x" * 65}, {"user_id": "a", "admin": True}],
    )
    async def test_bad_user_ids_are_422(self, http, body) -> None:
        assert (await http.post("/api/dev-token", json=body)).status_code == 422

    async def test_only_for_pages_opened_on_localhost(self, http) -> None:
        rebound = await http.post(
            "/api/dev-token", json={"user_id": "demo"}, headers={"Host": "evil.example.com"}
        )
        assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "forbidden"
        for host in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
            response = await http.post("/api/dev-token", json={"user_id": "demo"}, headers={"Host": host})
            assert response.status_code == 200, host

    async def test_off_when_the_api_verifies_better_auth_tokens(self, settings) -> None:
        from api.main import create_app

        better_auth = settings.model_copy(update={"better_auth_url": "http://127.0.0.1:9"})
        port = free_port()
        with ServerThread(create_app(better_auth), port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                response = await http.post("/api/dev-token", json={"user_id": "demo"})
                page = await http.get("/")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert page.status_code == 200


class TestSameOrigin:
    async def test_the_apis_own_origin_passes_the_guard_and_others_do_not(self, http, api_url) -> None:
        token = (await http.post("/api/dev-token", json={"user_id": "page-user"})).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        port = int(api_url.rsplit(":", 1)[1])
        own = await http.get("/api/page-user/conversations", headers={**auth, "Origin": api_url})
        assert own.status_code == 200
        for origin in (
            f"http://127.0.0.1:{port + 1}",
            f"https://127.0.0.1:{port}",
            "http://127.0.0.1",
            "null",
        ):
            other = await http.get("/api/page-user/conversations", headers={**auth, "Origin": origin})
            assert other.status_code == 403, origin
