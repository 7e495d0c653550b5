"""Who may call the standalone MCP server over HTTP (`taskchat mcp`), and for whom it acts.

Two bearers are accepted. The service token (MCP_SERVICE_TOKEN) is our own workers': they act for the
run's user and name it in every call. A person's Better Auth JWT, verified as the API verifies it
(`common.auth`), is an MCP client's (the MCP Inspector, an editor, a desktop assistant): it acts for the
token's subject only, so `user_id` is not the caller's to choose. Anything else is 401.
"""

import copy
import hmac
import logging
from collections.abc import Sequence
from typing import Any

import httpx2
from fastmcp.exceptions import ToolError
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from common import auth
from common.errors import TaskchatError, Unavailable
from common.settings import Settings

log = logging.getLogger("taskchat.mcp.auth")
SERVICE_SCOPE = "taskchat:service"
USER_SCOPE = "taskchat:user"
RUN_META_PREFIX = "taskchat/"  # the run's ledger keys (mcp_tools.ledger): our workers' alone


class CallerAuth(TokenVerifier):
    """The service token, compared in constant time, or a Better Auth JWT of a user."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        assert settings.mcp_service_token, "checked at start (common.auth.service_token_problem)"
        self.service_token = settings.mcp_service_token.encode()
        # Lives as long as the process: it fetches the JWKS when the key set comes from a URL.
        self.users = auth.TokenVerifier(settings, httpx2.AsyncClient())

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self.service_token):
            return AccessToken(token=token, client_id="taskchat-service", scopes=[SERVICE_SCOPE])
        try:
            claims = await self.users.verify(token)
        except Unavailable as exc:  # the JWKS cannot be fetched: the client sees 401 all the same
            log.warning("mcp.auth.keys_unavailable reason=%s", exc.message)
            return None
        except TaskchatError as exc:  # invalid, expired, signed by an unknown key
            log.info("mcp.auth.rejected reason=%s", exc.message)
            return None
        # The subject and issuer also bind the MCP session: another token cannot take it over.
        return AccessToken(
            token=token,
            client_id="better-auth",
            scopes=[USER_SCOPE],
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )


def token_user() -> str | None:
    """The user whose own token made this request; None for the service token and in-process calls."""
    token = get_access_token()
    return token.subject if token is not None and USER_SCOPE in token.scopes else None


class UserScope(Middleware):
    """A caller with a user's token sees the tools without `user_id`, and every call it makes is for the
    token's subject: a different `user_id` is refused, never quietly used."""

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: Any) -> Sequence[Tool]:
        tools: Sequence[Tool] = await call_next(context)
        if token_user() is None:
            return tools
        return [_without_user_id(tool) for tool in tools]

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> ToolResult:
        user = token_user()
        if user is None:
            return await call_next(context)  # type: ignore[no-any-return]
        arguments = dict(context.message.arguments or {})
        if arguments.get("user_id", user) != user:
            raise ToolError("This token acts for its own user only: leave user_id out.")
        if any(str(key).startswith(RUN_META_PREFIX) for key in _request_meta(context)):
            raise ToolError("Run metadata (taskchat/...) is only for taskchat's workers.")
        arguments["user_id"] = user
        message = context.message.model_copy(update={"arguments": arguments})
        return await call_next(context.copy(message=message))  # type: ignore[no-any-return]


def _request_meta(context: MiddlewareContext[Any]) -> dict[str, Any]:
    """The call's `_meta`, where the ledger reads it (`mcp_tools.ledger.RunLedger`)."""
    request = context.fastmcp_context.request_context if context.fastmcp_context else None
    return dict((request.meta if request else None) or {})


def _without_user_id(tool: Tool) -> Tool:
    schema = copy.deepcopy(tool.parameters)
    schema.get("properties", {}).pop("user_id", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "user_id"]
    return tool.model_copy(update={"parameters": schema})
