"""The built-in chat page at `/`: one HTML file with inline CSS and JS, no build step, nothing fetched
from elsewhere (its Content-Security-Policy allows only this origin). And, mounted in development only
(`Settings.dev_tokens`), `POST /api/dev-token`, which hands the page a token signed with the development
key set; without it the page asks for a token."""

import asyncio
import base64
import hashlib
import ipaddress
import re
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from common.devkeys import mint_token
from common.errors import Forbidden

PAGE = Path(__file__).resolve().parent.parent / "static" / "chat.html"
DEV_TOKEN_TTL_S = 12 * 3600
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

router = APIRouter(include_in_schema=False)
dev_router = APIRouter(include_in_schema=False)


@cache
def page(dev_tokens: bool) -> tuple[bytes, str]:
    html = PAGE.read_text(encoding="utf-8")
    # Outside the script, so its hash (the policy) stays the same: whether to offer development tokens.
    html = html.replace("<body>", f'<body data-dev-tokens="{"on" if dev_tokens else "off"}">', 1)
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    policy = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html.encode(), policy


@router.get("/")
async def chat_page(request: Request) -> Response:
    html, policy = page(request.app.state.settings.dev_tokens)
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Simple ids only: the page puts it in URL paths.
    user_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dev_router.post("/api/dev-token")
async def dev_token(request: Request, body: DevTokenRequest) -> dict[str, object]:
    settings = request.app.state.settings
    # Only to a browser on this machine, on a page opened as localhost: the client address keeps other
    # machines out (an API listening on 0.0.0.0), the Host header keeps out a site that rebinds its own
    # name to 127.0.0.1 (it would pass the same-origin check, but its Host still names that site).
    if not _loopback(request.client.host if request.client else "") or request.url.hostname not in LOOPBACK:
        raise Forbidden("Development tokens are handed out only to pages opened on localhost.")
    token = await asyncio.to_thread(mint_token, settings, body.user_id, ttl_s=DEV_TOKEN_TTL_S)
    return {"user_id": body.user_id, "token": token, "expires_in": DEV_TOKEN_TTL_S}
